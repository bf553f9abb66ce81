# Training: each sweep is a Paramspace grid, split into population jobs trained in one process.


def _train_settings(wildcards):
    return step_args(
        spec=zoo.population_spec(config, wildcards.sweep, int(wildcards.population)),
        init_member=init_member(wildcards),
    )


def _train_paths(wildcards, input, output):
    return step_args(output=output.store, init_store=input.init_store or None)


rule train_population:
    input:
        init_store=init_store,
    output:
        store=directory(f"{RESULTS}/zoo/{{sweep}}/population_{{population}}.zarr"),
    log:
        "logs/train_population/{sweep}/{population}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_population/{{sweep}}/{{population}}.tsv"
    params:
        settings=_train_settings,
        paths=_train_paths,
    threads: config["compute"]["train_threads"]
    conda:
        CONDA_ENV
    resources:
        mem_mb=lambda wildcards: config["sweeps"][wildcards.sweep]["mem_mb"],
        runtime=lambda wildcards: config["sweeps"][wildcards.sweep]["runtime"],
        gpu=config["compute"]["gpus_per_training_job"] if TRAINS_ON_GPU else 0,
    shell:
        "{PYTHON} -m pipeline train_population --args {params.paths:q} --settings {params.settings:q} --runtime {RUNTIME:q}"
        " --threads {threads} > {log:q} 2>&1"


# A few seconds of table-making: runs where Snakemake runs, never queued on a cluster.
localrules:
    collect_sweep_metrics,


rule collect_sweep_metrics:
    input:
        stores=lambda wildcards: population_stores(wildcards.sweep),
    output:
        table=f"{RESULTS}/zoo/{{sweep}}/metrics.parquet",
    log:
        "logs/collect_sweep_metrics/{sweep}.log",
    benchmark:
        f"{RESULTS}/benchmarks/collect_sweep_metrics/{{sweep}}.tsv"
    params:
        settings=lambda wildcards: step_args(),
        paths=lambda wildcards, input, output: step_args(stores=list(input.stores), output=output.table),
    conda:
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "{PYTHON} -m pipeline collect_sweep_metrics --args {params.paths:q} --settings {params.settings:q} > {log:q} 2>&1"
