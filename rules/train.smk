# Training: each sweep is a Paramspace grid, split into population jobs trained in one process.


# Datasets are fetched where Snakemake runs (a login node has the network; compute nodes may not),
# once each, before any training; a rehearsal's stand-in is made and checked instead.
localrules:
    prepare_datasets,


rule prepare_datasets:
    output:
        dataset_marker=f"{RESULTS}/data/{{dataset}}.json",
    log:
        logs("prepare_datasets", "{dataset}"),
    benchmark:
        benchmarks("prepare_datasets", "{dataset}")
    params:
        settings=lambda wildcards: step_args(dataset=wildcards.dataset, stand_in=TORCHVISION_DATASETS[wildcards.dataset]),
        paths=step_paths,
    resources:
        # torchvision's loaders (torch imported); the download's time is the network's
        **estimated(lambda wildcards: plan.analysis_estimate(
            "prepare_datasets", 0, PLAN_FIGURES, mb=PLAN_FIGURES.base_mb + PLAN_FIGURES.torch_mb,
        )),
    conda:
        CONDA_ENV
    shell:
        step()


rule train_population:
    input:
        init_store=init_store,
        dataset_marker=prepared_dataset,
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
        step()


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
        **analysed("collect_sweep_metrics"),
    conda:
        CONDA_ENV
    shell:
        step()
