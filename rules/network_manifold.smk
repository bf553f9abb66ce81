# Study network_manifold (Abel et al., paper 003): one chain of steps per sweep, then tables.

NM = config["network_manifold"]
NM_DIR = f"{RESULTS}/network_manifold"
DASK = config["compute"]["dask"]
ANALYSIS_THREADS = config["compute"]["analysis_threads"]


def nm(sweep_or_wildcard, name):
    return f"{NM_DIR}/{sweep_or_wildcard}/{name}"


rule extract_representations:
    input:
        stores=lambda wildcards: population_stores(wildcards.sweep),
        metrics=lambda wildcards: sweep_metrics(wildcards.sweep),
    output:
        store=directory(nm("{sweep}", "representations.zarr")),
    log:
        "logs/extract_representations/{sweep}.log",
    benchmark:
        f"{RESULTS}/benchmarks/extract_representations/{{sweep}}.tsv"
    params:
        args=lambda wildcards, input, output: step_args(
            stores=list(input.stores), metrics=input.metrics, output=output.store,
            layer=NM["layer"], n_points=NM["n_points"], eval_seed=NM["eval_seed"],
        ),
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "{PYTHON} -m pipeline extract_representations --args {params.args:q} --runtime {RUNTIME:q}"
        " --threads {threads} > {log:q} 2>&1"


rule compute_network_matrices:
    input:
        representations=nm("{sweep}", "representations.zarr"),
    output:
        store=directory(nm("{sweep}", "matrices.zarr")),
    log:
        "logs/compute_network_matrices/{sweep}.log",
    benchmark:
        f"{RESULTS}/benchmarks/compute_network_matrices/{{sweep}}.tsv"
    params:
        args=lambda wildcards, input, output: step_args(
            representations=input.representations, output=output.store, sigma=NM["sigma"], knn=NM["knn"],
        ),
    threads: ANALYSIS_THREADS
    conda:
        CONDA_ENV
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "{PYTHON} -m pipeline compute_network_matrices --args {params.args:q} --runtime {DASK_RUNTIME:q}"
        " --threads {threads} > {log:q} 2>&1"


rule compute_network_distances:
    input:
        representations=nm("{sweep}", "representations.zarr"),
        matrices=nm("{sweep}", "matrices.zarr"),
    output:
        store=directory(nm("{sweep}", "distances.zarr")),
    log:
        "logs/compute_network_distances/{sweep}.log",
    benchmark:
        f"{RESULTS}/benchmarks/compute_network_distances/{{sweep}}.tsv"
    params:
        args=lambda wildcards, input, output: step_args(
            representations=input.representations, matrices=input.matrices, output=output.store,
        ),
    threads: ANALYSIS_THREADS
    conda:
        CONDA_ENV
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "{PYTHON} -m pipeline compute_network_distances --args {params.args:q} --runtime {DASK_RUNTIME:q}"
        " --threads {threads} > {log:q} 2>&1"


rule characterize_networks:
    input:
        representations=nm("{sweep}", "representations.zarr"),
    output:
        table=nm("{sweep}", "characterization.parquet"),
        arrays=directory(nm("{sweep}", "characterization.zarr")),
    log:
        "logs/characterize_networks/{sweep}.log",
    benchmark:
        f"{RESULTS}/benchmarks/characterize_networks/{{sweep}}.tsv"
    params:
        args=lambda wildcards, input, output: step_args(
            representations=input.representations, output=output.table, output_arrays=output.arrays,
            sigma=NM["sigma"], entropy_t=NM["entropy_t"], n_clusters=NM["n_clusters"],
        ),
    threads: ANALYSIS_THREADS
    conda:
        CONDA_ENV
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "{PYTHON} -m pipeline characterize_networks --args {params.args:q} --runtime {DASK_RUNTIME:q}"
        " --threads {threads} > {log:q} 2>&1"


rule compute_persistence:
    input:
        representations=nm("{sweep}", "representations.zarr"),
    output:
        store=directory(nm("{sweep}", "persistence.zarr")),
    log:
        "logs/compute_persistence/{sweep}.log",
    benchmark:
        f"{RESULTS}/benchmarks/compute_persistence/{{sweep}}.tsv"
    params:
        args=lambda wildcards, input, output: step_args(
            representations=input.representations, output=output.store,
            max_dim=NM["homology_max_dim"], order=NM["wasserstein_order"],
        ),
    threads: ANALYSIS_THREADS
    conda:
        CONDA_ENV
    resources:
        mem_mb=4000,
        runtime=60,
    shell:
        "{PYTHON} -m pipeline compute_persistence --args {params.args:q} --runtime {DASK_RUNTIME:q}"
        " --threads {threads} > {log:q} 2>&1"


rule embed_networks:
    input:
        representations=nm("{sweep}", "representations.zarr"),
        distances=nm("{sweep}", "distances.zarr"),
        persistence=nm("{sweep}", "persistence.zarr"),
    output:
        table=nm("{sweep}", "embeddings.parquet"),
    log:
        "logs/embed_networks/{sweep}.log",
    benchmark:
        f"{RESULTS}/benchmarks/embed_networks/{{sweep}}.tsv"
    params:
        args=lambda wildcards, input, output: step_args(
            representations=input.representations, distances=input.distances, output=output.table,
            knn=NM["phate_knn"], persistence=input.persistence,
        ),
    conda:
        CONDA_ENV
    resources:
        mem_mb=2000,
        runtime=20,
    shell:
        "{PYTHON} -m pipeline embed_networks --args {params.args:q} > {log:q} 2>&1"


rule suggest_hyperparameters:
    input:
        metrics=lambda wildcards: sweep_metrics(wildcards.sweep),
    output:
        table=nm("{sweep}", "suggestion.csv"),
    log:
        "logs/suggest_hyperparameters/{sweep}.log",
    benchmark:
        f"{RESULTS}/benchmarks/suggest_hyperparameters/{{sweep}}.tsv"
    params:
        args=lambda wildcards, input, output: step_args(
            config_sweep=config["sweeps"][wildcards.sweep], sweep_name=wildcards.sweep,
            metrics=input.metrics, output=output.table, top=NM["suggestion_top"],
        ),
    threads: config["compute"]["train_threads"]
    conda:
        CONDA_ENV
    resources:
        mem_mb=2000,
        runtime=30,
        gpu=config["compute"]["gpus_per_training_job"] if TRAINS_ON_GPU else 0,
    shell:
        "{PYTHON} -m pipeline suggest_hyperparameters --args {params.args:q} --runtime {RUNTIME:q}"
        " --threads {threads} > {log:q} 2>&1"


rule plot_network_manifold:
    input:
        representations=nm("{sweep}", "representations.zarr"),
        embeddings=nm("{sweep}", "embeddings.parquet"),
        features=nm("{sweep}", "characterization.parquet"),
        characterization=nm("{sweep}", "characterization.zarr"),
        persistence=nm("{sweep}", "persistence.zarr"),
    output:
        figures=expand(f"{NM_DIR}/{{{{sweep}}}}/figures/{{name}}.png", name=NM_FIGURES),
    log:
        "logs/plot_network_manifold/{sweep}.log",
    benchmark:
        f"{RESULTS}/benchmarks/plot_network_manifold/{{sweep}}.tsv"
    params:
        args=lambda wildcards, input, output: step_args(
            sweep=wildcards.sweep, output_dir=str(Path(output.figures[0]).parent), seed=NM["figure_seed"],
            **{k: input[k] for k in ("representations", "embeddings", "features", "characterization", "persistence")},
        ),
    conda:
        CONDA_ENV
    resources:
        mem_mb=2000,
        runtime=20,
    shell:
        "{PYTHON} -m pipeline plot_network_manifold --args {params.args:q} > {log:q} 2>&1"


rule tabulate_network_manifold:
    input:
        embeddings=expand(nm("{sweep}", "embeddings.parquet"), sweep=NM["sweeps"]),
        features=expand(nm("{sweep}", "characterization.parquet"), sweep=NM["sweeps"]),
        distances=expand(nm("{sweep}", "distances.zarr"), sweep=NM["sweeps"]),
    output:
        tables=expand(f"{NM_DIR}/tables/{{name}}.{{ext}}", name=NM_TABLES, ext=("csv", "md")),
    log:
        "logs/tabulate_network_manifold/all.log",
    benchmark:
        f"{RESULTS}/benchmarks/tabulate_network_manifold/all.tsv"
    params:
        args=lambda wildcards, input, output: step_args(
            embeddings=dict(zip(NM["sweeps"], input.embeddings)),
            features=dict(zip(NM["sweeps"], input.features)),
            distances=dict(zip(NM["sweeps"], input.distances)),
            output_dir=f"{NM_DIR}/tables", top=NM["top"],
        ),
    conda:
        CONDA_ENV
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "{PYTHON} -m pipeline tabulate_network_manifold --args {params.args:q} > {log:q} 2>&1"
