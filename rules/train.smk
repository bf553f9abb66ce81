# Training: each sweep is a Paramspace grid, split into population jobs trained in one process.


rule train_population:
    input:
        init_store=init_store,
    output:
        population_store=directory(f"{RESULTS}/zoo/{{sweep}}/population_{{population}}.zarr"),
    log:
        logs("train_population", "{sweep}", "{population}"),
    benchmark:
        benchmarks("train_population", "{sweep}", "{population}")
    params:
        settings=lambda wildcards: step_args(
            spec=zoo.population_spec(config, wildcards.sweep, int(wildcards.population)),
            init_member=init_member(wildcards),
        ),
        paths=step_paths,
    threads: TRAIN_THREADS
    resources:
        **TRAINING_RESOURCES,
    conda:
        CONDA_ENV
    shell:
        step("train_population")


# A second of table-making: runs where Snakemake runs, never queued on a cluster.
localrules:
    collect_sweep_metrics,


rule collect_sweep_metrics:
    input:
        stores=lambda wildcards: population_stores(wildcards.sweep),
    output:
        metrics=f"{RESULTS}/zoo/{{sweep}}/metrics.parquet",
    log:
        logs("collect_sweep_metrics", "{sweep}"),
    benchmark:
        benchmarks("collect_sweep_metrics", "{sweep}")
    params:
        settings=step_args(),
        paths=step_paths,
    resources:
        mem_mb=per_network(500, 1),
        runtime=per_network(2, 0.01),
    conda:
        CONDA_ENV
    shell:
        step("collect_sweep_metrics")
