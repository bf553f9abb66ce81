# Study network_manifold (Abel et al., paper 003): one chain of steps per sweep, then tables.
# Every rule runs the step of its name (step(), rules/common.smk) with its named inputs and outputs.
from pipeline.studies import network_manifold as nm

NM = config["network_manifold"]


rule extract_representations:
    input:
        stores=lambda wildcards: population_stores(wildcards.sweep),
        metrics=lambda wildcards: sweep_metrics(wildcards.sweep),
    output:
        representations=directory(nm.path(config, "{sweep}", "representations.zarr")),
    log:
        logs("extract_representations", "{sweep}"),
    benchmark:
        benchmarks("extract_representations", "{sweep}")
    params:
        settings=study_settings("network_manifold", "layer", "n_points", "eval_seed"),
        paths=step_paths,
    threads: 1
    group:
        "network_manifold"
    resources:
        **analysed("extract_representations"),
    conda:
        CONDA_ENV
    shell:
        step()


rule compute_network_matrices:
    input:
        representations=nm.path(config, "{sweep}", "representations.zarr"),
    output:
        matrices=directory(nm.path(config, "{sweep}", "matrices.zarr")),
    log:
        logs("compute_network_matrices", "{sweep}"),
    benchmark:
        benchmarks("compute_network_matrices", "{sweep}")
    params:
        settings=study_settings("network_manifold", "sigma", "bandwidth", "knn"),
        paths=step_paths,
    threads: ANALYSIS_THREADS
    group:
        "network_manifold"
    resources:
        **analysed("compute_network_matrices"),
    conda:
        CONDA_ENV
    shell:
        step()


rule compute_network_distances:
    input:
        representations=nm.path(config, "{sweep}", "representations.zarr"),
        matrices=nm.path(config, "{sweep}", "matrices.zarr"),
    output:
        distances=directory(nm.path(config, "{sweep}", "distances.zarr")),
    log:
        logs("compute_network_distances", "{sweep}"),
    benchmark:
        benchmarks("compute_network_distances", "{sweep}")
    params:
        settings=step_args(),
        paths=step_paths,
    threads: ANALYSIS_THREADS
    group:
        "network_manifold"
    resources:
        **analysed("compute_network_distances"),
    conda:
        CONDA_ENV
    shell:
        step()


rule characterize_networks:
    input:
        representations=nm.path(config, "{sweep}", "representations.zarr"),
        matrices=nm.path(config, "{sweep}", "matrices.zarr"),
    output:
        characterization=nm.path(config, "{sweep}", "characterization.parquet"),
        characterization_arrays=directory(nm.path(config, "{sweep}", "characterization.zarr")),
    log:
        logs("characterize_networks", "{sweep}"),
    benchmark:
        benchmarks("characterize_networks", "{sweep}")
    params:
        settings=study_settings("network_manifold", "entropy_t", "n_clusters"),
        paths=step_paths,
    threads: ANALYSIS_THREADS
    group:
        "network_manifold"
    resources:
        **analysed("characterize_networks"),
    conda:
        CONDA_ENV
    shell:
        step()


rule compute_persistence:
    input:
        representations=nm.path(config, "{sweep}", "representations.zarr"),
    output:
        persistence=directory(nm.path(config, "{sweep}", "persistence.zarr")),
    log:
        logs("compute_persistence", "{sweep}"),
    benchmark:
        benchmarks("compute_persistence", "{sweep}")
    params:
        settings=study_settings("network_manifold", "homology_max_dim", "wasserstein_order"),
        paths=step_paths,
    threads: ANALYSIS_THREADS
    group:
        "network_manifold"
    resources:
        **analysed("compute_persistence"),
    conda:
        CONDA_ENV
    shell:
        step()


rule embed_networks:
    input:
        representations=nm.path(config, "{sweep}", "representations.zarr"),
        distances=nm.path(config, "{sweep}", "distances.zarr"),
        persistence=nm.path(config, "{sweep}", "persistence.zarr"),
    output:
        embeddings=nm.path(config, "{sweep}", "embeddings.parquet"),
        hidden_embeddings=nm.path(config, "{sweep}", "hidden_embeddings.parquet"),
    log:
        logs("embed_networks", "{sweep}"),
    benchmark:
        benchmarks("embed_networks", "{sweep}")
    params:
        settings=study_settings("network_manifold", "phate_knn", "phate_seed"),
        paths=step_paths,
    group:
        "network_manifold"
    resources:
        **analysed("embed_networks"),
    conda:
        CONDA_ENV
    shell:
        step()


rule plot_network_manifold:
    input:
        embeddings=nm.path(config, "{sweep}", "embeddings.parquet"),
        hidden_embeddings=nm.path(config, "{sweep}", "hidden_embeddings.parquet"),
        characterization=nm.path(config, "{sweep}", "characterization.parquet"),
        characterization_arrays=nm.path(config, "{sweep}", "characterization.zarr"),
        persistence=nm.path(config, "{sweep}", "persistence.zarr"),
    output:
        **figure_outputs(nm.path(config, "{sweep}", "figures"), nm.FIGURES, "network_manifold", "{sweep}", {"sweep": "{sweep}"}),
    log:
        logs("plot_network_manifold", "{sweep}"),
    benchmark:
        benchmarks("plot_network_manifold", "{sweep}")
    params:
        settings=lambda wildcards: study_settings("network_manifold", "figure_seed", sweep=wildcards.sweep, **figure_settings()),
        paths=step_paths,
    group:
        "network_manifold"
    resources:
        **analysed("plot_network_manifold"),
    conda:
        CONDA_ENV
    shell:
        step()


# The hyperparameter suggestion: the rule (small), the suggested network's training (a training
# job like the sweep's own), and its table.
localrules:
    suggest_hyperparameters,
    tabulate_suggestion,
    tabulate_network_manifold,


rule suggest_hyperparameters:
    input:
        metrics=lambda wildcards: sweep_metrics(wildcards.sweep),
    output:
        suggestion=nm.path(config, "{sweep}", "suggestion.json"),
    log:
        logs("suggest_hyperparameters", "{sweep}"),
    benchmark:
        benchmarks("suggest_hyperparameters", "{sweep}")
    params:
        settings=study_settings("network_manifold", "suggestion_top"),
        paths=step_paths,
    resources:
        **analysed("suggest_hyperparameters"),
    conda:
        CONDA_ENV
    shell:
        step()


rule train_suggested_network:
    input:
        suggestion=nm.path(config, "{sweep}", "suggestion.json"),
        init_store=init_store,
    output:
        network=directory(nm.path(config, "{sweep}", "suggested_network.zarr")),
    log:
        logs("train_suggested_network", "{sweep}"),
    benchmark:
        benchmarks("train_suggested_network", "{sweep}")
    params:
        settings=lambda wildcards: step_args(
            sweep_settings=sweep_settings(wildcards.sweep),
            sweep_name=wildcards.sweep,
            init_member=init_member(wildcards),
        ),
        paths=step_paths,
    threads: TRAIN_THREADS
    resources:
        # one network of the sweep (the suggestion is known only once suggest_hyperparameters ran)
        **trained(lambda wildcards: one_network(zoo.population_spec(config, wildcards.sweep, 0))),
    conda:
        CONDA_ENV
    shell:
        step()


rule tabulate_suggestion:
    input:
        metrics=lambda wildcards: sweep_metrics(wildcards.sweep),
        suggestion=nm.path(config, "{sweep}", "suggestion.json"),
        network=nm.path(config, "{sweep}", "suggested_network.zarr"),
    output:
        nm.path(config, "{sweep}", "suggestion.csv"),
        nm.path(config, "{sweep}", "suggestion.md"),
        suggestion_table=report(
            nm.path(config, "{sweep}", "suggestion.html"),
            caption="report/network_manifold/suggestion.rst",
            category="network_manifold",
            subcategory="{sweep}",
            labels={"sweep": "{sweep}", "table": "hyperparameter suggestion"},
        ),
    log:
        logs("tabulate_suggestion", "{sweep}"),
    benchmark:
        benchmarks("tabulate_suggestion", "{sweep}")
    params:
        settings=lambda wildcards: step_args(sweep_name=wildcards.sweep),
        paths=step_paths,
    resources:
        **analysed("tabulate_suggestion"),
    conda:
        CONDA_ENV
    shell:
        step()


rule tabulate_network_manifold:
    input:
        embeddings=expand(nm.path(config, "{sweep}", "embeddings.parquet"), sweep=NM["sweeps"]),
        characterization=expand(nm.path(config, "{sweep}", "characterization.parquet"), sweep=NM["sweeps"]),
        distances=expand(nm.path(config, "{sweep}", "distances.zarr"), sweep=NM["sweeps"]),
    output:
        [nm.table_path(config, name, extension) for name in nm.TABLES for extension in ("csv", "md")],
        **{
            name: report(
                nm.table_path(config, name, "html"),
                caption=f"report/network_manifold/{name}.rst",
                category="network_manifold",
                subcategory="tables",
                labels={"table": name},
            )
            for name in nm.TABLES
        },
    log:
        logs("tabulate_network_manifold"),
    benchmark:
        benchmarks("tabulate_network_manifold")
    params:
        settings=study_settings("network_manifold", "sweeps", "top", "gft_knn"),
        paths=step_paths,
    resources:
        **analysed("tabulate_network_manifold", NM["sweeps"]),
    conda:
        CONDA_ENV
    shell:
        step()


# The claims table: every claim of the paper beside this run's evidence (pipeline.claims), with
# Table 1 over PHATE seeds and both bandwidths; gathered into results/claims.* by gather_claims.
rule tabulate_network_manifold_claims:
    input:
        representations=expand(nm.path(config, "{sweep}", "representations.zarr"), sweep=NM["sweeps"]),
        matrices=expand(nm.path(config, "{sweep}", "matrices.zarr"), sweep=NM["sweeps"]),
        distances=expand(nm.path(config, "{sweep}", "distances.zarr"), sweep=NM["sweeps"]),
        embeddings=expand(nm.path(config, "{sweep}", "embeddings.parquet"), sweep=NM["sweeps"]),
        characterization=expand(nm.path(config, "{sweep}", "characterization.parquet"), sweep=NM["sweeps"]),
        suggestion_tables=expand(nm.path(config, "{sweep}", "suggestion.csv"), sweep=NM["sweeps"]),
    output:
        [nm.table_path(config, name, extension) for name in nm.CLAIMS_TABLES for extension in ("csv", "md")],
        claims=report(
            nm.table_path(config, "claims", "html"),
            caption="report/network_manifold/claims.rst",
            category="network_manifold",
            subcategory="tables",
            labels={"table": "claims"},
        ),
        table1_robustness=report(
            nm.table_path(config, "table1_robustness", "html"),
            caption="report/network_manifold/table1_robustness.rst",
            category="network_manifold",
            subcategory="tables",
            labels={"table": "table1_robustness"},
        ),
    log:
        logs("tabulate_network_manifold_claims"),
    benchmark:
        benchmarks("tabulate_network_manifold_claims")
    params:
        settings=study_settings(
            "network_manifold",
            "sweeps",
            "top",
            "gft_knn",
            "phate_knn",
            "phate_seed",
            "sigma",
            "bandwidth",
            "entropy_t",
            "claims_phate_seeds",
            "claims_seed",
            "claims_resamples",
            architectures=nm.architectures(config),
        ),
        paths=step_paths,
    resources:
        **analysed("tabulate_network_manifold_claims", NM["sweeps"]),
    conda:
        CONDA_ENV
    shell:
        step()
