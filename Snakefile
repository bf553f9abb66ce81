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


# Every study's rules, rules/<study>.smk, for each study the registry finds (STUDIES:
# pipeline.studies.registered()): adding a study adds its files and edits no line here.
for _study in STUDIES:

    include: f"rules/{_study}.smk"


# Every study's claims table on one page (the report opens with it).
include: "rules/claims.smk"


# step() names no rule: a job fills its {rule} with the rule's own name when it runs. The command
# Snakemake records and lints is the rule's unformatted one, so it gets the name written in: the
# linter knows no {rule}, and each recorded command stays as it was when every rule named its step
# (Snakemake's `code` trigger compares them: results made then are not re-run).
for _rule in workflow.rules:
    if _rule.shellcmd and "{rule}" in _rule.shellcmd:
        _rule.shellcmd = _rule.shellcmd.replace("{rule}", _rule.name)


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
            study_targets(study),


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
