"""Figures fit to publish (pipeline.figures): the check itself, and every figure of the test run."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402
from conftest import REPO, TEST_RESULTS, run_snakemake  # noqa: E402

from pipeline import figures  # noqa: E402
from pipeline.config import ConfigError, validate_config  # noqa: E402

FIGURE_SUFFIXES = (".png", ".pdf", ".svg")


# ---------------------------------------------------------------------------------- the check
def _labelled_line(size=(3.0, 2.2)):
    fig, ax = figures.new_figure(size=size)
    ax.plot([0, 1], [0, 1])
    ax.set_xlabel("step"), ax.set_ylabel("loss")
    return fig, ax


def test_a_labelled_figure_has_no_problems():
    fig, _ = _labelled_line()
    assert figures.figure_problems(fig) == []
    plt.close(fig)


@pytest.mark.parametrize("kind", ["line", "image", "scatter"])
def test_the_check_flags_a_data_panel_without_axis_labels(kind):
    fig, ax = figures.new_figure(size=(3.0, 2.2))
    {"line": lambda: ax.plot([0, 1], [0, 1]), "image": lambda: ax.imshow(np.eye(3)), "scatter": lambda: ax.scatter([0], [1])}[kind]()
    ax.set_xlabel("step")
    problems = figures.figure_problems(fig)
    assert len(problems) == 1 and "no y-label" in problems[0]
    plt.close(fig)


def test_the_check_exempts_colorbars_axis_off_panels_and_empty_panels_and_accepts_shared_labels():
    fig, axes = figures.new_figure(2, 2, size=(4.0, 3.5), sharex=True, sharey="row", squeeze=False)
    for ax in axes.ravel()[:3]:
        ax.plot([0, 1], [1, 0])
    axes[1, 0].set_xlabel("step")  # shared by the column above and, through sharex=True, all
    axes[0, 0].set_ylabel("loss"), axes[1, 0].set_ylabel("accuracy")  # one per row (sharey="row")
    image = axes[1, 1].imshow(np.eye(3))
    axes[1, 1].set_axis_off()  # an image whose coordinates mean nothing
    fig.colorbar(image, ax=axes[1, 1], label="weight")
    assert figures.figure_problems(fig) == []
    plt.close(fig)


@pytest.mark.filterwarnings("ignore:constrained_layout not applied")
def test_the_check_flags_text_off_the_canvas():
    fig, ax = _labelled_line()
    ax.set_title("a title far too long for a figure three inches wide, cut wherever the canvas ends")
    ax.annotate("far right", (0.5, 0.5), xytext=(400, 0), textcoords="offset points")
    problems = figures.figure_problems(fig)
    assert any("title" in p and "runs off the canvas" in p for p in problems)
    assert any("far right" in p and "runs off the canvas" in p for p in problems)
    plt.close(fig)


def test_the_check_flags_a_legend_and_a_suptitle_off_the_canvas():
    fig, ax = _labelled_line()
    ax.plot([0, 1], [1, 0], label="a line")
    ax.legend(loc="upper left", bbox_to_anchor=(1.5, 1.0))
    fig.suptitle("x" * 120)
    problems = figures.figure_problems(fig)
    assert any(p.startswith("suptitle") for p in problems) and any("legend" in p for p in problems)
    plt.close(fig)


def test_figure_files_name_a_faulty_figures_problems_and_write_every_format(tmp_path, caplog):
    paths = {"good": str(tmp_path / "good.png"), "good_pdf": str(tmp_path / "good.pdf")}
    files = figures.FigureFiles("plot_demo", ["good"], paths, dpi=100, formats=["png", "pdf"])
    fig, ax = figures.new_figure(size=(3.0, 2.2))
    ax.plot([0, 1], [0, 1])
    with caplog.at_level("WARNING", logger="pipeline.figures"):
        files.save(fig, "good")
    assert re.search(r"(?s)plot_demo: figure 'good' is not fit to publish.*no x-label or y-label", caplog.text)
    assert list(files.problems) == ["good"] and (tmp_path / "good.png").exists()  # written all the same
    files = figures.FigureFiles("plot_demo", ["good"], paths, dpi=100, formats=["png", "pdf"])
    fig, _ = _labelled_line()
    files.save(fig, "good")
    assert files.problems == {}
    assert (tmp_path / "good.png").read_bytes()[:4] == b"\x89PNG" and (tmp_path / "good.pdf").read_bytes()[:4] == b"%PDF"
    with pytest.raises(ValueError, match="expected paths"):
        figures.FigureFiles("plot_demo", ["good"], {"good": paths["good"]}, dpi=100, formats=["png", "pdf"])
    with pytest.raises(ValueError, match="must include png"):
        figures.FigureFiles("plot_demo", ["good"], {"good_pdf": paths["good_pdf"]}, dpi=100, formats=["pdf"])


def test_the_figures_key_defaults_and_must_keep_png():
    assert validate_config({})["figures"] == {"formats": ["png", "pdf"], "dpi": 200}
    with pytest.raises(ConfigError, match=r"figures\.formats': must include png"):
        validate_config({"figures": {"formats": ["pdf"]}})
    with pytest.raises(ConfigError, match="figures"):
        validate_config({"figures": {"formats": ["png", "jpeg"]}})


def test_the_test_config_writes_pdfs():
    config = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    assert config["figures"]["formats"] == ["png", "pdf"]


# ---------------------------------------------------------------------------------- the test run
def plotting_commands(workdir: Path) -> list[tuple[str, dict, dict]]:
    """Every plotting job of the test config as (step, args, settings), read from a dry run that
    forces the plotting rules (what Snakemake would run; nothing runs)."""
    listed = run_snakemake("--list-rules", "--configfile", "config/test.yaml", workdir=workdir).stdout.split()
    rules = [rule for rule in listed if rule.startswith("plot_")]
    result = run_snakemake(
        "--dry-run", "--printshellcmds", "--cores", "1", "--configfile", "config/test.yaml", "--forcerun", *rules,
        "--until", *rules, workdir=workdir,
    )
    commands = []
    for line in result.stdout.splitlines():
        match = re.search(r"-m pipeline (plot_\w+) (--args .*)", line)
        if match:
            words = shlex.split(match.group(2))
            options = dict(zip(words[0::2], words[1::2]))
            commands.append((match.group(1), json.loads(options["--args"]), json.loads(options["--settings"])))
    return commands


def redraw(commands, out: Path, monkeypatch) -> dict[str, list[str]]:
    """Run each plotting step in-process with its figure files under ``out``: the problems
    (:func:`pipeline.figures.figure_problems`) of every figure, by its PNG path in the run. Each is
    recorded, not raised, so that every figure's problems are listed at once."""
    from pipeline.__main__ import resolve

    found = []

    def record(fig):
        found.append(check(fig))
        return []

    check = figures.figure_problems
    monkeypatch.setattr(figures, "figure_problems", record)
    problems = {}
    for step, args, settings in commands:
        found.clear()
        moved = {name: str(out / path) if str(path).endswith(FIGURE_SUFFIXES) else path for name, path in args.items()}
        written = [str(Path(path).relative_to(out)) for path in resolve(step)(**moved, **settings) if str(path).endswith(".png")]
        assert len(written) == len(found), step
        problems.update(zip(written, found))
    return problems


def test_every_figure_of_the_test_run_is_fit_to_publish(finished_test_run, tmp_path, monkeypatch):
    monkeypatch.chdir(finished_test_run)
    commands = plotting_commands(finished_test_run)
    studies = {step for step, _, _ in commands}
    assert {"plot_network_manifold", "plot_loss_landscape", "plot_activation_landscapes", "plot_learning_graphs"} <= studies
    assert {"plot_relu_classification", "plot_relu_regression"} <= studies
    problems = redraw(commands, tmp_path, monkeypatch)
    pngs = sorted(str(p.relative_to(finished_test_run)) for p in (finished_test_run / TEST_RESULTS).glob("**/figures/*.png"))
    assert sorted(problems) == pngs  # every figure of the run redrawn, none left out
    faulty = {path: found for path, found in problems.items() if found}
    assert not faulty, "\n".join(f"{path}:\n  " + "\n  ".join(found) for path, found in faulty.items())


def test_every_png_of_the_test_run_has_its_pdf(finished_test_run):
    pngs = sorted((finished_test_run / TEST_RESULTS).glob("**/figures/*.png"))
    assert len(pngs) >= 20
    for png in pngs:
        pdf = png.with_suffix(".pdf")
        assert pdf.is_file() and pdf.read_bytes()[:4] == b"%PDF", f"no PDF beside {png}"
