# Training: each sweep is a Paramspace grid, split into population jobs trained in one process.


def _init_store(wildcards):
    source = zoo.source_network(config, wildcards.sweep)
    return population_store(source[0], source[1]) if source else []


def _train_args(wildcards, input, output):
    source = zoo.source_network(config, wildcards.sweep)
    return step_args(
        spec=zoo.population_spec(config, wildcards.sweep, int(wildcards.population)),
        output=output.store,
        init_store=input.init_store if source else None,
        init_member=source[2] if source else 0,
    )


rule train_population:
    input:
        init_store=_init_store,
    output:
        store=directory(f"{RESULTS}/zoo/{{sweep}}/population_{{population}}.zarr"),
    log:
        "logs/train_population/{sweep}/{population}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_population/{{sweep}}/{{population}}.tsv"
    params:
        args=_train_args,
    threads: config["compute"]["train_threads"]
    conda:
        CONDA_ENV
    resources:
        mem_mb=lambda wildcards: config["sweeps"][wildcards.sweep]["mem_mb"],
        runtime=lambda wildcards: config["sweeps"][wildcards.sweep]["runtime"],
        gpu=config["compute"]["gpus_per_training_job"] if TRAINS_ON_GPU else 0,
    shell:
        "{PYTHON} -m pipeline train_population --args {params.args:q} --runtime {RUNTIME:q}"
        " --threads {threads} > {log:q} 2>&1"


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
        args=lambda wildcards, input, output: step_args(stores=list(input.stores), output=output.table),
    conda:
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "{PYTHON} -m pipeline collect_sweep_metrics --args {params.args:q} > {log:q} 2>&1"
