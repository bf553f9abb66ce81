"""The rehearsal (config/rehearsal.yaml over config/paper.yaml) runs the paper DAG, not a smaller one.

Both DAGs are built by Snakemake's dry run; what the rehearsal must hold is computed from the paper
DAG, never listed here: every rule, and every trained architecture at its input and batch size.
"""

import json
import shlex
import shutil

import pytest
from conftest import REPO, run_snakemake
from test_workflow import _job_counts

PAPER = ("--configfile", "config/paper.yaml")
REHEARSAL = ("--configfile", "config/paper.yaml", "config/rehearsal.yaml")


def _dry_run(workdir, configfiles):
    result = run_snakemake("--dry-run", "--printshellcmds", "--cores", "2", *configfiles, workdir=workdir)
    return _job_counts(result.stdout), _trainings(result.stdout)


def _trainings(output: str) -> list[dict]:
    """Every training job's arguments: the paths (--args) and the population spec (--settings)."""
    jobs = []
    for line in output.splitlines():
        if "-m pipeline train_population " not in line:
            continue
        words = shlex.split(line[line.index("-m pipeline"):])
        arguments = {words[i]: words[i + 1] for i in range(len(words) - 1) if words[i].startswith("--")}
        jobs.append({"paths": json.loads(arguments["--args"]), **json.loads(arguments["--settings"])})
    return jobs


def _architectures(trainings) -> set:
    """What a GPU job of the paper would build and feed: the model, the data's shape (its dataset)
    and the batch size."""
    return {
        (json.dumps(job["spec"]["architecture"], sort_keys=True), job["spec"]["dataset"], job["spec"]["training"]["batch_size"])
        for job in trainings
    }


@pytest.fixture(scope="module")
def dags(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("rehearsal_dag")
    shutil.copytree(REPO / "config", workdir / "config")
    return _dry_run(workdir, PAPER), _dry_run(workdir, REHEARSAL)


def test_the_rehearsal_runs_every_rule_of_the_paper_dag(dags):
    (paper_counts, _), (rehearsal_counts, _) = dags
    assert len(paper_counts) >= 30  # the paper DAG was read
    missing = sorted(set(paper_counts) - set(rehearsal_counts))
    assert not missing, f"rules of the paper DAG that the rehearsal does not run: {missing}"
    # and it is a rehearsal: fewer jobs in all
    assert sum(rehearsal_counts.values()) < sum(paper_counts.values())


def test_the_rehearsal_trains_every_paper_architecture_at_its_input_and_batch_size(dags):
    (_, paper_trainings), (_, rehearsal_trainings) = dags
    paper = _architectures(paper_trainings)
    assert len(paper) >= 20  # every WResNet depth x width x batch size, ResNet-9, the CNN, the MLPs
    missing = paper - _architectures(rehearsal_trainings)
    assert not missing, f"paper architectures the rehearsal never trains: {sorted(missing)}"


def test_the_rehearsal_needs_no_dataset_files_yet_prepares_each_dataset_first(dags):
    (paper_counts, paper_trainings), (rehearsal_counts, rehearsal_trainings) = dags
    image_sets = {"mnist", "fashion_mnist", "cifar10"}
    on_images = [job for job in rehearsal_trainings if job["spec"]["dataset"] in image_sets]
    assert on_images and all(job["spec"]["dataset_options"]["stand_in"] is not None for job in on_images)
    assert all(job["spec"]["dataset_options"]["stand_in"] is None for job in paper_trainings)
    # in both DAGs every training on MNIST or CIFAR-10 waits for that dataset's prepare_datasets job
    for trainings in (paper_trainings, rehearsal_trainings):
        for job in trainings:
            expected = f"data/{job['spec']['dataset']}.json" if job["spec"]["dataset"] in image_sets else None
            marker = job["paths"]["dataset_marker"]
            assert (marker is None) if expected is None else marker.endswith(expected), (job["spec"]["sweep"], marker)
    datasets = {job["spec"]["dataset"] for job in paper_trainings} & image_sets
    assert paper_counts["prepare_datasets"] == rehearsal_counts["prepare_datasets"] == len(datasets)
