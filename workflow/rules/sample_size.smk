# Planning an external validation: how many patients are needed to estimate the
# frozen model's calibration slope, C and O/E precisely (Riley et al., Stat Med
# 2022). Each cell of the grid of sizes x event fractions is its own job, so the
# cells run in parallel here or as separate jobs on a cluster; one job gathers
# them into a table and a figure.

if SAMPLE_SIZE:

    rule sample_size_cell:
        input:
            model=FROZEN_MODEL,
        output:
            cells=out("intermediate/sample_size/n{n}_events{fraction}.csv"),
        log:
            out("logs/sample_size/n{n}_events{fraction}.log"),
        benchmark:
            out("logs/benchmarks/sample_size/n{n}_events{fraction}.tsv")
        conda:
            "../envs/netpet.yaml"
        resources:
            mem_mb=job_mem_mb(600),
            runtime=job_runtime(5),
        params:
            version=PACKAGE_VERSION,
            settings=settings(*LABELS, "sample_size"),
            n_sim=config["sample_size"]["n_sim"],
            seed=config["sample_size"]["seed"],
        script:
            "../scripts/sample_size_cell.py"

    rule sample_size:
        input:
            model=FROZEN_MODEL,
            cells=sample_size_cells(),
        output:
            precision=report(
                out("results/sample_size/precision.csv"),
                caption="../report/sample_size.rst",
                category="9. Sample size for external validation",
                labels={"table": "precision by size"},
            ),
            precision_md=out("results/sample_size/precision.md"),
            minimum=report(
                out("results/sample_size/minimum_n.csv"),
                caption="../report/sample_size.rst",
                category="9. Sample size for external validation",
                labels={"table": "minimum size"},
            ),
            minimum_md=out("results/sample_size/minimum_n.md"),
            figures=report(
                expand(out("results/figures/sample_size.{fmt}"), fmt=FIGURE_FORMATS),
                caption="../report/sample_size.rst",
                category="9. Sample size for external validation",
                labels={"figure": "precision by size"},
            ),
        log:
            out("logs/sample_size/gather.log"),
        benchmark:
            out("logs/benchmarks/sample_size/gather.tsv")
        conda:
            "../envs/netpet.yaml"
        resources:
            mem_mb=job_mem_mb(600),
            runtime=job_runtime(5),
        params:
            version=PACKAGE_VERSION,
            settings=settings(*LABELS, "sample_size", "figures"),
            targets=config["sample_size"]["targets"],
        script:
            "../scripts/sample_size.py"
