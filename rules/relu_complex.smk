# Study relu_complex (paper 001): per sweep, the exact decomposition of every network at every
# recorded step (one Dask task each) with its dual-graph Fiedler partitions (classification) and
# cell-complex Betti numbers; the grokking/agreement and loss-spike tables over every sweep, with
# each sweep's events (loss spikes, fit, generalization) that its figures draw. Every rule runs
# the step of its name (step(), rules/common.smk) with its named inputs and outputs.
from pipeline.studies import relu_complex as relu

RC_CLASSIFICATION = relu.classification_sweeps(config)
RC_REGRESSION = [sweep for sweep in relu.all_sweeps(config) if sweep not in RC_CLASSIFICATION]
RC_SWEEPS = relu.all_sweeps(config)


rule analyse_relu_complexes:
    input:
        stores=lambda wildcards: population_stores(wildcards.sweep),
    output:
        complexes=directory(relu.path(config, "{sweep}", "complexes.zarr")),
    log:
        logs("analyse_relu_complexes", "{sweep}"),
    benchmark:
        benchmarks("analyse_relu_complexes", "{sweep}")
    wildcard_constraints:
        sweep="|".join(RC_SWEEPS) or "NO_SWEEPS",
    params:
        settings=study_settings(
            "relu_complex", "box", "box_margin", "betti_orders", "filtration_points", "seed", "weighting_epsilon"
        ),
        paths=step_paths,
    # The kernel's Python loops hold the GIL: a second thread of the step's Dask cluster gained
    # nothing (relu_circles: 12.4 s with one, 13.6 s with two), so with threads (the default of
    # compute.dask.gil_bound) the rule asks for one and sweeps run side by side; with processes
    # it asks for compute.analysis_threads, one single-threaded worker process each.
    threads: ANALYSIS_THREADS if config["compute"]["dask"]["gil_bound"] == "processes" else 1
    group:
        "relu_complex"
    resources:
        **analysed("analyse_relu_complexes"),
    conda:
        CONDA_ENV
    shell:
        step()


rule tabulate_relu_complex:
    input:
        complexes=[relu.path(config, sweep, "complexes.zarr") for sweep in RC_SWEEPS],
    output:
        [relu.table_path(config, name, extension) for name in relu.TABLES for extension in ("csv", "md")],
        **{
            name: report(
                relu.table_path(config, name, "html"),
                caption=f"report/relu_complex/{name}.rst",
                category="relu_complex",
                subcategory="tables",
                labels={"table": name},
            )
            for name in relu.TABLES
        },
        # what the figures mark (loss spikes, fit and generalization), found here once
        events=[directory(relu.path(config, sweep, "events.zarr")) for sweep in RC_SWEEPS],
    log:
        logs("tabulate_relu_complex"),
    benchmark:
        benchmarks("tabulate_relu_complex")
    params:
        settings=study_settings("relu_complex", "grokking", "spike_ratio", "weighting"),
        paths=step_paths,
    group:
        "relu_complex"
    resources:
        **analysed("tabulate_relu_complex", []),
    conda:
        CONDA_ENV
    shell:
        step()


rule tabulate_relu_complex_claims:
    input:
        complexes=[relu.path(config, sweep, "complexes.zarr") for sweep in RC_SWEEPS],
    output:
        relu.table_path(config, "claims", "csv"),
        relu.table_path(config, "claims", "md"),
        claims=report(
            relu.table_path(config, "claims", "html"),
            caption="report/relu_complex/claims.rst",
            category="relu_complex",
            subcategory="tables",
            labels={"table": "claims"},
        ),
    log:
        logs("tabulate_relu_complex_claims"),
    benchmark:
        benchmarks("tabulate_relu_complex_claims")
    params:
        settings=study_settings("relu_complex", "grokking", "spike_ratio", "weighting", "seed"),
        paths=step_paths,
    group:
        "relu_complex"
    resources:
        **analysed("tabulate_relu_complex_claims", []),
    conda:
        CONDA_ENV
    shell:
        step()


rule plot_relu_classification:
    input:
        complexes=relu.path(config, "{sweep}", "complexes.zarr"),
        events=relu.path(config, "{sweep}", "events.zarr"),
    output:
        **figure_outputs(relu.path(config, "{sweep}", "figures"), relu.CLASSIFICATION_FIGURES, "relu_complex", "{sweep}", {"sweep": "{sweep}"}),
    log:
        logs("plot_relu_classification", "{sweep}"),
    benchmark:
        benchmarks("plot_relu_classification", "{sweep}")
    wildcard_constraints:
        sweep="|".join(RC_CLASSIFICATION) or "NO_SWEEPS",
    params:
        settings=study_settings("relu_complex", "weighting", **figure_settings()),
        paths=step_paths,
    group:
        "relu_complex"
    resources:
        **analysed("plot_relu_classification", []),
    conda:
        CONDA_ENV
    shell:
        step()


rule plot_relu_regression:
    input:
        complexes=relu.path(config, "{sweep}", "complexes.zarr"),
        events=relu.path(config, "{sweep}", "events.zarr"),
    output:
        **figure_outputs(relu.path(config, "{sweep}", "figures"), relu.TOPOLOGY_FIGURES, "relu_complex", "{sweep}", {"sweep": "{sweep}"}),
    log:
        logs("plot_relu_regression", "{sweep}"),
    benchmark:
        benchmarks("plot_relu_regression", "{sweep}")
    wildcard_constraints:
        sweep="|".join(RC_REGRESSION) or "NO_SWEEPS",
    params:
        settings=study_settings("relu_complex", **figure_settings()),
        paths=step_paths,
    group:
        "relu_complex"
    resources:
        **analysed("plot_relu_regression", []),
    conda:
        CONDA_ENV
    shell:
        step()
