# Study loss_landscape (Horoi et al., paper 002): around every optimum of the optimum sweeps,
# jump-and-retrain, grid and naive samplings (one job of each per population store of optima),
# their cosine PHATE and loss-level topology, then Table 1 and the figures over every optimum.
# Every rule runs the step of its name (step(), rules/common.smk) with its named inputs and outputs.
from pipeline.studies import loss_landscape as ll

LL_POPULATIONS = ll.populations(config)


rule sample_jump_retrain:
    input:
        population_store=lambda wildcards: population_store(wildcards.sweep, wildcards.population),
    output:
        jump_retrain=directory(ll.population_path(config, "{sweep}", "{population}", "jump_retrain.zarr")),
    log:
        logs("sample_jump_retrain", "{sweep}", "{population}"),
    benchmark:
        benchmarks("sample_jump_retrain", "{sweep}", "{population}")
    params:
        settings=study_settings("loss_landscape", "seeds", "step_sizes", "retrain"),
        paths=step_paths,
    threads: TRAIN_THREADS
    resources:
        # every optimum x seed x step size of the store, retrained as one population
        **trained(lambda wildcards: ll.jump_retrain_spec_of(config, wildcards.sweep, int(wildcards.population))),
    conda:
        CONDA_ENV
    shell:
        step()


rule sample_probes:
    input:
        population_store=lambda wildcards: population_store(wildcards.sweep, wildcards.population),
    output:
        probes=directory(ll.population_path(config, "{sweep}", "{population}", "probes.zarr")),
    log:
        logs("sample_probes", "{sweep}", "{population}"),
    benchmark:
        benchmarks("sample_probes", "{sweep}", "{population}")
    params:
        settings=study_settings(
            "loss_landscape", "grid_points_per_axis", "grid_extent", "naive_directions", "step_sizes", "probe_seed", "probe_batch"
        ),
        paths=step_paths,
    threads: TRAIN_THREADS
    resources:
        # every grid and naive point around every optimum, evaluated probe_batch points at a time
        **estimated(lambda wildcards: plan.evaluation_estimate(
            zoo.population_spec(config, wildcards.sweep, int(wildcards.population)), ll.probe_points(config),
            config["loss_landscape"]["probe_batch"], sweep_device(wildcards.sweep), TRAIN_THREADS, PLAN_FIGURES,
            gpus=config["compute"]["gpus_per_training_job"],
        ), sweep_overrides=True),
    conda:
        CONDA_ENV
    shell:
        step()


rule embed_landscape:
    input:
        population_store=lambda wildcards: population_store(wildcards.sweep, wildcards.population),
        jump_retrain=ll.population_path(config, "{sweep}", "{population}", "jump_retrain.zarr"),
        probes=ll.population_path(config, "{sweep}", "{population}", "probes.zarr"),
    output:
        landscape=directory(ll.population_path(config, "{sweep}", "{population}", "landscape.zarr")),
    log:
        logs("embed_landscape", "{sweep}", "{population}"),
    benchmark:
        benchmarks("embed_landscape", "{sweep}", "{population}")
    params:
        settings=study_settings("loss_landscape", "phate_knn", "phate_seed", "graph_knn", "filtration_loss"),
        paths=step_paths,
    threads: ANALYSIS_THREADS
    group:
        "loss_landscape"
    resources:
        **analysed("embed_landscape"),
    conda:
        CONDA_ENV
    shell:
        step()


rule compare_embeddings:
    input:
        landscapes=lambda wildcards: [ll.population_path(config, *ll.example_population(config), "landscape.zarr")],
    output:
        embedding_comparison=ll.path(config, "embedding_comparison.parquet"),
    log:
        logs("compare_embeddings"),
    benchmark:
        benchmarks("compare_embeddings")
    params:
        settings=study_settings("loss_landscape", "example", "tree", "phate_knn", "phate_seed"),
        paths=step_paths,
    resources:
        **analysed("compare_embeddings", []),
    conda:
        CONDA_ENV
    shell:
        step()


rule tabulate_loss_landscape:
    input:
        population_stores=[population_store(s, p) for s, p in LL_POPULATIONS],
        jump_retrains=ll.population_paths(config, "jump_retrain.zarr"),
        probes=ll.population_paths(config, "probes.zarr"),
        landscapes=ll.population_paths(config, "landscape.zarr"),
    output:
        [ll.path(config, f"tables/{name}.{extension}") for name in ll.TABLES for extension in ("csv", "md")],
        **{
            name: report(
                ll.path(config, f"tables/{name}.html"),
                caption=f"report/loss_landscape/{name}.rst",
                category="loss_landscape",
                subcategory="tables",
                labels={"table": name},
            )
            for name in ll.TABLES
        },
    log:
        logs("tabulate_loss_landscape"),
    benchmark:
        benchmarks("tabulate_loss_landscape")
    params:
        settings=study_settings("loss_landscape", "memorization", "complex", "generalization_classes", "classifiers"),
        paths=step_paths,
    threads: ANALYSIS_THREADS
    resources:
        **analysed("tabulate_loss_landscape", ll.optimum_sweeps(config)),
    conda:
        CONDA_ENV
    shell:
        step()


rule tabulate_loss_landscape_claims:
    input:
        optima_table=ll.path(config, "tables/optima.csv"),
        table1_by_classifier=ll.path(config, "tables/table1_by_classifier.csv"),
        siblings=ll.path(config, "tables/siblings.csv"),
    output:
        ll.path(config, "tables/claims.csv"),
        ll.path(config, "tables/claims.md"),
        claims=report(
            ll.path(config, "tables/claims.html"),
            caption="report/loss_landscape/claims.rst",
            category="loss_landscape",
            subcategory="tables",
            labels={"table": "claims"},
        ),
    log:
        logs("tabulate_loss_landscape_claims"),
    benchmark:
        benchmarks("tabulate_loss_landscape_claims")
    params:
        settings=study_settings("loss_landscape", "complex", "classifiers"),
        paths=step_paths,
    resources:
        **analysed("tabulate_loss_landscape_claims", []),
    conda:
        CONDA_ENV
    shell:
        step()


rule plot_loss_landscape:
    input:
        landscapes=ll.population_paths(config, "landscape.zarr"),
        embedding_comparison=ll.path(config, "embedding_comparison.parquet"),
        optima_table=ll.path(config, "tables/optima.csv"),
    output:
        **figure_outputs(ll.path(config, "figures"), ll.FIGURES, "loss_landscape", "figures"),
    log:
        logs("plot_loss_landscape"),
    benchmark:
        benchmarks("plot_loss_landscape")
    params:
        settings=study_settings("loss_landscape", "example", "complex", **figure_settings()),
        paths=step_paths,
    resources:
        **analysed("plot_loss_landscape", []),
    conda:
        CONDA_ENV
    shell:
        step()
