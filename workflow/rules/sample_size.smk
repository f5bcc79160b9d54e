# Planning an external validation: how many patients are needed to estimate the
# frozen model's calibration slope, C and O/E precisely (Riley et al., Stat Med
# 2022). One job simulates every cell of the grid of sizes x event fractions, in
# parallel on its threads (forked processes, the largest cells first), and gathers
# them into the tables; another draws the figure from the table, so that a figure
# setting does not simulate the grid again. A job per cell, as before, let a cluster
# spread the cells over nodes, but each spent most of its time starting Python and
# loading the libraries (2.4-3.5 s of CPU for 0.2-0.5 s of simulation on the
# bundled grid). The one job uses the cores it is given: 4 threads, fewer if
# Snakemake has fewer cores, and one for a grid of up to 3 million simulated
# patients (common.smk; the default grid, 1.5 million, takes about 3 s of CPU); on
# a cluster give a large grid a node's worth, --set-threads sample_size=32 (more
# threads than cells do not help). Not workflow.cores: a SLURM run without
# --cores stops on it. The cohorts are the
# same for any number of threads, each cell drawing from its own stream.

if SAMPLE_SIZE:

    rule sample_size:
        input:
            model=FROZEN_MODEL,
        output:
            cohorts=out("intermediate/sample_size/simulated_cohorts.csv"),
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
        log:
            out("logs/sample_size.log"),
        benchmark:
            out("logs/benchmarks/sample_size.tsv")
        # first among jobs ready together: the long jobs and the chain to them
        priority: 1
        conda:
            "../envs/netpet.yaml"
        threads: simulation_threads(4)
        resources:
            mem_mb=job_mem_mb(600, per_worker=0.5),
            runtime=job_runtime(10),
        params:
            version=PACKAGE_VERSION,
            settings=settings(*LABELS, "sample_size"),
            n_sim=config["sample_size"]["n_sim"],
            seed=config["sample_size"]["seed"],
            targets=config["sample_size"]["targets"],
        script:
            "../scripts/sample_size.py"

    rule sample_size_figure:
        input:
            model=FROZEN_MODEL,
            precision=rules.sample_size.output.precision,
        output:
            figures=report(
                expand(out("results/figures/sample_size.{fmt}"), fmt=FIGURE_FORMATS),
                caption="../report/sample_size.rst",
                category="9. Sample size for external validation",
                labels={"figure": "precision by size"},
            ),
        log:
            out("logs/sample_size_figure.log"),
        benchmark:
            out("logs/benchmarks/sample_size_figure.tsv")
        conda:
            "../envs/netpet.yaml"
        resources:
            mem_mb=job_mem_mb(600),
            runtime=job_runtime(5),
        params:
            version=PACKAGE_VERSION,
            settings=settings(*LABELS, "sample_size", "figures"),
        script:
            "../scripts/sample_size_figure.py"
