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
        settings=lambda wildcards: step_args(layer=NM["layer"], n_points=NM["n_points"], eval_seed=NM["eval_seed"]),
        paths=lambda wildcards, input, output: step_args(
            stores=list(input.stores), metrics=input.metrics, output=output.store
        ),
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "{PYTHON} -m pipeline extract_representations --args {params.paths:q} --settings {params.settings:q} --runtime {RUNTIME:q}"
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
        settings=lambda wildcards: step_args(sigma=NM["sigma"], bandwidth=NM["bandwidth"], knn=NM["knn"]),
        paths=lambda wildcards, input, output: step_args(representations=input.representations, output=output.store),
    threads: ANALYSIS_THREADS
    conda:
        CONDA_ENV
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "{PYTHON} -m pipeline compute_network_matrices --args {params.paths:q} --settings {params.settings:q} --runtime {DASK_RUNTIME:q}"
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
        settings=lambda wildcards: step_args(),
        paths=lambda wildcards, input, output: step_args(
            representations=input.representations, matrices=input.matrices, output=output.store
        ),
    threads: ANALYSIS_THREADS
    conda:
        CONDA_ENV
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "{PYTHON} -m pipeline compute_network_distances --args {params.paths:q} --settings {params.settings:q} --runtime {DASK_RUNTIME:q}"
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
        settings=lambda wildcards: step_args(
            sigma=NM["sigma"], bandwidth=NM["bandwidth"], entropy_t=NM["entropy_t"], n_clusters=NM["n_clusters"]
        ),
        paths=lambda wildcards, input, output: step_args(
            representations=input.representations, output=output.table, output_arrays=output.arrays
        ),
    threads: ANALYSIS_THREADS
    conda:
        CONDA_ENV
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "{PYTHON} -m pipeline characterize_networks --args {params.paths:q} --settings {params.settings:q} --runtime {DASK_RUNTIME:q}"
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
        settings=lambda wildcards: step_args(max_dim=NM["homology_max_dim"], order=NM["wasserstein_order"]),
        paths=lambda wildcards, input, output: step_args(representations=input.representations, output=output.store),
    threads: ANALYSIS_THREADS
    conda:
        CONDA_ENV
    resources:
        mem_mb=4000,
        runtime=60,
    shell:
        "{PYTHON} -m pipeline compute_persistence --args {params.paths:q} --settings {params.settings:q} --runtime {DASK_RUNTIME:q}"
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
        settings=lambda wildcards: step_args(knn=NM["phate_knn"]),
        paths=lambda wildcards, input, output: step_args(
            representations=input.representations, distances=input.distances, persistence=input.persistence,
            output=output.table,
        ),
    conda:
        CONDA_ENV
    resources:
        mem_mb=2000,
        runtime=20,
    shell:
        "{PYTHON} -m pipeline embed_networks --args {params.paths:q} --settings {params.settings:q} > {log:q} 2>&1"


rule suggest_hyperparameters:
    input:
        metrics=lambda wildcards: sweep_metrics(wildcards.sweep),
        init_store=init_store,
    output:
        table=nm("{sweep}", "suggestion.csv"),
        markdown=nm("{sweep}", "suggestion.md"),
        html=report(
            nm("{sweep}", "suggestion.html"),
            caption="report/nm_suggestion.rst",
            category="network_manifold",
            subcategory="{sweep}",
            labels={"sweep": "{sweep}", "table": "hyperparameter suggestion"},
        ),
    log:
        "logs/suggest_hyperparameters/{sweep}.log",
    benchmark:
        f"{RESULTS}/benchmarks/suggest_hyperparameters/{{sweep}}.tsv"
    params:
        settings=lambda wildcards: step_args(
            config_sweep=training_settings(wildcards.sweep), sweep_name=wildcards.sweep, top=NM["suggestion_top"],
            init_member=init_member(wildcards),
        ),
        paths=lambda wildcards, input, output: step_args(
            metrics=input.metrics, output=output.table, init_store=input.init_store or None
        ),
    threads: config["compute"]["train_threads"]
    conda:
        CONDA_ENV
    resources:
        mem_mb=lambda wildcards: config["sweeps"][wildcards.sweep]["mem_mb"],
        runtime=lambda wildcards: config["sweeps"][wildcards.sweep]["runtime"],
        gpu=config["compute"]["gpus_per_training_job"] if TRAINS_ON_GPU else 0,
    shell:
        "{PYTHON} -m pipeline suggest_hyperparameters --args {params.paths:q} --settings {params.settings:q} --runtime {RUNTIME:q}"
        " --threads {threads} > {log:q} 2>&1"


rule plot_network_manifold:
    input:
        representations=nm("{sweep}", "representations.zarr"),
        embeddings=nm("{sweep}", "embeddings.parquet"),
        features=nm("{sweep}", "characterization.parquet"),
        characterization=nm("{sweep}", "characterization.zarr"),
        persistence=nm("{sweep}", "persistence.zarr"),
    output:
        **{
            name: report(
                nm("{sweep}", f"figures/{name}.png"),
                caption=f"report/nm_{name}.rst",
                category="network_manifold",
                subcategory="{sweep}",
                labels={"sweep": "{sweep}", "figure": name},
            )
            for name in NM_FIGURES
        },
    log:
        "logs/plot_network_manifold/{sweep}.log",
    benchmark:
        f"{RESULTS}/benchmarks/plot_network_manifold/{{sweep}}.tsv"
    params:
        settings=lambda wildcards: step_args(sweep=wildcards.sweep, seed=NM["figure_seed"]),
        paths=lambda wildcards, input, output: step_args(
            output_dir=str(Path(output[0]).parent),
            **{k: input[k] for k in ("representations", "embeddings", "features", "characterization", "persistence")},
        ),
    conda:
        CONDA_ENV
    resources:
        mem_mb=2000,
        runtime=20,
    shell:
        "{PYTHON} -m pipeline plot_network_manifold --args {params.paths:q} --settings {params.settings:q} > {log:q} 2>&1"


localrules:
    tabulate_network_manifold,


rule tabulate_network_manifold:
    input:
        embeddings=expand(nm("{sweep}", "embeddings.parquet"), sweep=NM["sweeps"]),
        features=expand(nm("{sweep}", "characterization.parquet"), sweep=NM["sweeps"]),
        distances=expand(nm("{sweep}", "distances.zarr"), sweep=NM["sweeps"]),
    output:
        csv=expand(f"{NM_DIR}/tables/{{name}}.csv", name=NM_TABLES),
        markdown=expand(f"{NM_DIR}/tables/{{name}}.md", name=NM_TABLES),
        **{
            name: report(
                f"{NM_DIR}/tables/{name}.html",
                caption=f"report/nm_{name}.rst",
                category="network_manifold",
                subcategory="tables",
                labels={"table": name},
            )
            for name in NM_TABLES
        },
    log:
        "logs/tabulate_network_manifold/all.log",
    benchmark:
        f"{RESULTS}/benchmarks/tabulate_network_manifold/all.tsv"
    params:
        settings=lambda wildcards: step_args(top=NM["top"], gft_knn=NM["gft_knn"]),
        paths=lambda wildcards, input, output: step_args(
            embeddings=dict(zip(NM["sweeps"], input.embeddings)),
            features=dict(zip(NM["sweeps"], input.features)),
            distances=dict(zip(NM["sweeps"], input.distances)),
            output_dir=f"{NM_DIR}/tables",
        ),
    conda:
        CONDA_ENV
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "{PYTHON} -m pipeline tabulate_network_manifold --args {params.paths:q} --settings {params.settings:q} > {log:q} 2>&1"
