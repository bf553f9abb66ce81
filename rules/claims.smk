# Every study's claims table gathered on one page, results/claims.{md,html}: one line per study,
# then each table (pipeline.claims). The report's front page shows it.


# A second of table-making: runs where Snakemake runs, never queued on a cluster.
localrules:
    gather_claims,


rule gather_claims:
    input:
        claims_tables=claims_tables(),
    output:
        claims=report(
            f"{RESULTS}/claims.html",
            caption="report/claims.rst",
            category="0. Claims",
            subcategory="all studies",
            labels={"table": "every paper claim with its evidence"},
        ),
        claims_md=f"{RESULTS}/claims.md",
        claims_summary=f"{RESULTS}/claims_summary.html",
    log:
        logs("gather_claims"),
    benchmark:
        benchmarks("gather_claims")
    params:
        settings=step_args(),
        paths=step_paths,
    resources:
        **analysed("gather_claims", sweeps=[]),
    conda:
        CONDA_ENV
    shell:
        step()
