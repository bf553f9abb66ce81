# The reference pipeline for the geometry and topology of neural-network training.
# Everything lives in rules/*.smk and the `pipeline` package; this file only includes the
# rules and names the default target. Run: snakemake --cores N [--configfile config/paper.yaml]

# The default config applies only when no --configfile is given: a paper or test config replaces
# it rather than being merged into it (Snakemake would otherwise train the default sweeps too).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "rules/report/workflow.rst"


include: "rules/common.smk"
include: "rules/train.smk"
# One line per study (its rules; the study itself is found by pipeline.studies.registered()).
include: "rules/network_manifold.smk"
include: "rules/loss_landscape.smk"
include: "rules/activation_landscapes.smk"
include: "rules/learning_graphs.smk"
include: "rules/relu_complex.smk"
# Every study's claims table on one page (the report opens with it).
include: "rules/claims.smk"


rule all:
    default_target: True
    input:
        all_targets(),


# One target per study, to (re)compute one study alone: snakemake --cores N study_<name>
for name, study in STUDIES.items():

    rule:
        name:
            f"study_{name}"
        input:
            study.outputs(config),


# Any other study_<name> names no study: stop with the list of those that exist.
rule unknown_study_target:
    input:
        unknown_study,
    output:
        "study_{name}",
    wildcard_constraints:
        name="(?!(" + "|".join(STUDIES) + ")$).+",
    log:
        logs("unknown_study_target", "{name}"),
    conda:
        CONDA_ENV
    shell:
        "false"
