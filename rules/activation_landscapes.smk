# Study activation_landscapes (paper 004): per experiment, every layer's activations of its input
# batch for every network at every training-accuracy threshold, their persistence landscapes (one
# Dask task per item, resumable), the averages, norms, curves and permutation tests, the figures;
# over every experiment, the paper's claims beside the evidence (tables/claims.*).
# Every rule runs the step of its name (step(), rules/common.smk) with its named inputs and outputs.
from pipeline.studies import activation_landscapes as al

AL = config["activation_landscapes"]


# The sweeps an experiment reads, from its {experiment} wildcard.
EXPERIMENT_SWEEPS = lambda wildcards: al.experiment_sweeps(config, wildcards.experiment)


wildcard_constraints:
    experiment="|".join(AL["experiments"]) or "NO_EXPERIMENTS",


rule extract_layer_activations:
    input:
        stores=lambda wildcards: sweeps_stores(EXPERIMENT_SWEEPS(wildcards)),
    output:
        activations=directory(al.path(config, "{experiment}", "activations.zarr")),
    log:
        logs("extract_layer_activations", "{experiment}"),
    benchmark:
        benchmarks("extract_layer_activations", "{experiment}")
    params:
        settings=lambda wildcards: step_args(batch=AL["experiments"][wildcards.experiment]["batch"]),
        paths=step_paths,
    threads: 1
    group:
        "activation_landscapes"
    resources:
        # memory: one network's activations at a time plus the input batches and the data set, from
        # the config (al.extraction_memory); time: the rule's unit costs x networks
        **estimated(lambda wildcards: plan.analysis_estimate(
            "extract_layer_activations", networks_read(wildcards, EXPERIMENT_SWEEPS), PLAN_FIGURES,
            mb=al.extraction_mem_mb(config, wildcards.experiment),
        ), resumable=True),
    conda:
        CONDA_ENV
    shell:
        step()


rule compute_layer_landscapes:
    input:
        activations=al.path(config, "{experiment}", "activations.zarr"),
    output:
        landscapes=directory(al.path(config, "{experiment}", "landscapes.zarr")),
    log:
        logs("compute_layer_landscapes", "{experiment}"),
    benchmark:
        benchmarks("compute_layer_landscapes", "{experiment}")
    params:
        settings=lambda wildcards: study_settings(
            "activation_landscapes", "homology_dimension", "landscape_functions",
            local_homology=AL["experiments"][wildcards.experiment]["local_homology"],
            grid_width=AL["experiments"][wildcards.experiment]["grid_width"],
        ),
        paths=step_paths,
    threads: ANALYSIS_THREADS
    group:
        "activation_landscapes"
    resources:
        # memory: the rule's measured base and one item per thread, whatever the networks
        # (al.landscapes_mem_mb, less its own base); time: its items at their measured cost, over
        # the threads. Resumable: past compute.plan.max_runtime_min it runs as several attempts.
        **estimated(lambda wildcards: plan.Estimate(
            plan.analysis_estimate("compute_layer_landscapes", 0, PLAN_FIGURES).seconds
            + al.landscapes_cpu_seconds(config, wildcards.experiment) / ANALYSIS_THREADS / PLAN_FIGURES.cpu_speed,
            plan.analysis_estimate("compute_layer_landscapes", 0, PLAN_FIGURES).host_mb
            + al.landscapes_mem_mb(config, wildcards.experiment, ANALYSIS_THREADS) - al.LANDSCAPES_BASE_MB,
        ), resumable=True),
    conda:
        CONDA_ENV
    shell:
        step()


rule summarize_activation_landscapes:
    input:
        landscapes=al.path(config, "{experiment}", "landscapes.zarr"),
    output:
        [al.path(config, "{experiment}", f"tables/{name}.{extension}") for name in al.TABLES for extension in ("csv", "md")],
        summary=directory(al.path(config, "{experiment}", "summary.zarr")),
        **{
            name: report(
                al.path(config, "{experiment}", f"tables/{name}.html"),
                caption=f"report/activation_landscapes/{name}.rst",
                category="activation_landscapes",
                subcategory="{experiment}",
                labels={"experiment": "{experiment}", "table": name},
            )
            for name in al.TABLES
        },
    log:
        logs("summarize_activation_landscapes", "{experiment}"),
    benchmark:
        benchmarks("summarize_activation_landscapes", "{experiment}")
    params:
        settings=lambda wildcards: study_settings(
            "activation_landscapes", "permutations", "permutation_seed",
            shown_thresholds=AL["experiments"][wildcards.experiment]["shown_thresholds"],
        ),
        paths=step_paths,
    group:
        "activation_landscapes"
    resources:
        **analysed("summarize_activation_landscapes", EXPERIMENT_SWEEPS),
    conda:
        CONDA_ENV
    shell:
        step()


rule plot_activation_landscapes:
    input:
        summary=al.path(config, "{experiment}", "summary.zarr"),
    output:
        **figure_outputs(al.path(config, "{experiment}", "figures"), al.FIGURES, "activation_landscapes", "{experiment}", {"experiment": "{experiment}"}),
    log:
        logs("plot_activation_landscapes", "{experiment}"),
    benchmark:
        benchmarks("plot_activation_landscapes", "{experiment}")
    params:
        settings=lambda wildcards: step_args(experiment=wildcards.experiment, **figure_settings()),
        paths=step_paths,
    group:
        "activation_landscapes"
    resources:
        **analysed("plot_activation_landscapes", []),
    conda:
        CONDA_ENV
    shell:
        step()


rule tabulate_activation_landscapes_claims:
    input:
        summaries=[al.path(config, experiment, "summary.zarr") for experiment in AL["experiments"]],
    output:
        [al.claims_path(config, extension) for extension in ("csv", "md")],
        claims=report(
            al.claims_path(config, "html"),
            caption="report/activation_landscapes/claims.rst",
            category="activation_landscapes",
            subcategory="tables",
            labels={"table": "claims"},
        ),
    log:
        logs("tabulate_activation_landscapes_claims"),
    benchmark:
        benchmarks("tabulate_activation_landscapes_claims")
    params:
        settings=study_settings("activation_landscapes", "claims_seed"),
        paths=step_paths,
    group:
        "activation_landscapes"
    resources:
        **analysed("tabulate_activation_landscapes_claims", []),
    conda:
        CONDA_ENV
    shell:
        step()
