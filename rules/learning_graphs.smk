# Study learning_graphs (paper 000): per run, every network's recorded weights per layer, their
# learning graphs (Mapper, one Dask task per (network, layer)) with measured branchings and
# self-contained KeplerMapper pages, the figures; the branching tables over every run.
# Every rule runs the step of its name (step(), rules/common.smk) with its named inputs and outputs.
from pipeline.studies import learning_graphs as lg

LG = config["learning_graphs"]
# The sweeps a run reads, from its {run} wildcard.
RUN_SWEEPS = lambda wildcards: lg.run_sweeps(config, wildcards.run)


wildcard_constraints:
    run="|".join(LG["runs"]) or "NO_RUNS",


rule extract_weight_trajectories:
    input:
        stores=lambda wildcards: sweeps_stores(RUN_SWEEPS(wildcards)),
    output:
        trajectories=directory(lg.path(config, "{run}", "trajectories.zarr")),
    log:
        logs("extract_weight_trajectories", "{run}"),
    benchmark:
        benchmarks("extract_weight_trajectories", "{run}")
    params:
        settings=lambda wildcards: study_settings("learning_graphs", "digit", layers=LG["runs"][wildcards.run]["layers"]),
        paths=step_paths,
    threads: 1
    group:
        "learning_graphs"
    resources:
        **analysed("extract_weight_trajectories", RUN_SWEEPS),
    conda:
        CONDA_ENV
    shell:
        step()


rule build_learning_graphs:
    input:
        trajectories=lg.path(config, "{run}", "trajectories.zarr"),
    output:
        graphs=directory(lg.path(config, "{run}", "graphs.zarr")),
        pages_dir=report(
            directory(lg.path(config, "{run}", "pages")),
            patterns=["{page}.html"],
            caption="report/learning_graphs/pages.rst",
            category="learning_graphs",
            subcategory="{run}",
            labels={"run": "{run}", "page": "{page}"},
        ),
    log:
        logs("build_learning_graphs", "{run}"),
    benchmark:
        benchmarks("build_learning_graphs", "{run}")
    params:
        settings=lambda wildcards: study_settings(
            "learning_graphs", "surface_steps", "norm_lens", "pca_lens", "bootstrap", "min_support", "stability",
            "min_branch_snapshots", "seed", run=wildcards.run,
        ),
        paths=step_paths,
    threads: ANALYSIS_THREADS
    group:
        "learning_graphs"
    resources:
        **analysed("build_learning_graphs", RUN_SWEEPS),
    conda:
        CONDA_ENV
    shell:
        step()


rule tabulate_learning_graphs:
    input:
        trajectories=[lg.path(config, run, "trajectories.zarr") for run in LG["runs"]],
        graphs=[lg.path(config, run, "graphs.zarr") for run in LG["runs"]],
    output:
        [lg.table_path(config, name, extension) for name in lg.TABLES for extension in ("csv", "md")],
        **{
            name: report(
                lg.table_path(config, name, "html"),
                caption=f"report/learning_graphs/{name}.rst",
                category="learning_graphs",
                subcategory="tables",
                labels={"table": name},
            )
            for name in lg.TABLES
        },
    log:
        logs("tabulate_learning_graphs"),
    benchmark:
        benchmarks("tabulate_learning_graphs")
    params:
        settings=study_settings("learning_graphs", "accuracy_jumps"),
        paths=step_paths,
    group:
        "learning_graphs"
    resources:
        **analysed("tabulate_learning_graphs", []),
    conda:
        CONDA_ENV
    shell:
        step()


rule tabulate_learning_graphs_claims:
    input:
        trajectories=[lg.path(config, run, "trajectories.zarr") for run in LG["runs"]],
        graphs=[lg.path(config, run, "graphs.zarr") for run in LG["runs"]],
    output:
        lg.table_path(config, "claims", "md"),
        lg.table_path(config, "claims", "csv"),
        claims=report(
            lg.table_path(config, "claims", "html"),
            caption="report/learning_graphs/claims.rst",
            category="learning_graphs",
            subcategory="tables",
            labels={"table": "claims"},
        ),
    log:
        logs("tabulate_learning_graphs_claims"),
    benchmark:
        benchmarks("tabulate_learning_graphs_claims")
    params:
        settings=study_settings("learning_graphs", "claims_runs", "seed"),
        paths=step_paths,
    group:
        "learning_graphs"
    resources:
        **analysed("tabulate_learning_graphs_claims", []),
    conda:
        CONDA_ENV
    shell:
        step()


rule plot_learning_graphs:
    input:
        trajectories=lg.path(config, "{run}", "trajectories.zarr"),
        graphs=lg.path(config, "{run}", "graphs.zarr"),
    output:
        **figure_outputs(lg.path(config, "{run}", "figures"), lg.FIGURES, "learning_graphs", "{run}", {"run": "{run}"}),
    log:
        logs("plot_learning_graphs", "{run}"),
    benchmark:
        benchmarks("plot_learning_graphs", "{run}")
    params:
        settings=lambda wildcards: study_settings("learning_graphs", "seed", run=wildcards.run, **figure_settings()),
        paths=step_paths,
    group:
        "learning_graphs"
    resources:
        **analysed("plot_learning_graphs", []),
    conda:
        CONDA_ENV
    shell:
        step()
