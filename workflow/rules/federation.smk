# Multicentre analysis without pooling rows (federation.role: site | coordinator).
# A site answers the newest request in the exchange folder from its own cohort; the
# coordinator publishes the next request from the answers so far or, once every
# model has converged, the pooled tables. Which round is due is read from the
# exchange folder when Snakemake starts (federation_outputs in common.smk).

if FED_ROLE == "site":

    rule federation_answer:
        input:
            analysis=rules.prepare_cohort.output.analysis,
            request=exchange_file("round_{round}/request.json"),
        output:
            answer=exchange_file(f"round_{{round}}/{FEDERATION['site']}.json"),
            ledger=report(
                out("results/federation/release_ledger_round_{round}.csv"),
                caption="../report/federation.rst",
                category="Federation",
                labels={"table": "release ledger", "round": "{round}"},
            ),
            ledger_md=out("results/federation/release_ledger_round_{round}.md"),
        log:
            out("logs/federation_answer_{round}.log"),
        conda:
            "../envs/netpet.yaml"
        resources:
            mem_mb=job_mem_mb(600, per_input_mb=110),
            runtime=job_runtime(10),
        params:
            version=PACKAGE_VERSION,
        script:
            "../scripts/federation_answer.py"


if FED_ROLE == "coordinator":

    rule federation_request:
        input:
            answers=lambda wc: answers_before(int(wc.round)),
        output:
            request=exchange_file("round_{round}/request.json"),
        log:
            out("logs/federation_request_{round}.log"),
        conda:
            "../envs/netpet.yaml"
        resources:
            mem_mb=job_mem_mb(600),
            runtime=job_runtime(5),
        params:
            version=PACKAGE_VERSION,
            round=lambda wc: int(wc.round),
        script:
            "../scripts/federation_request.py"

    # The pooled tables, the report and the PDF are three rules: Snakemake removes the
    # outputs of a failing job only, so a report or a page that cannot be written
    # costs that file alone, never the pooled tables.
    rule federation_results:
        input:
            answers=answers_before(FED_PLAN["round"]),
        output:
            **{
                name: report(
                    out(f"results/federation/{name}.csv"),
                    caption="../report/federation.rst",
                    category="Federation",
                    labels={"table": name},
                )
                for name in FED_TABLES
            },
            **{
                f"{name}_md": out(f"results/federation/{name}.md")
                for name in FED_TABLES
            },
        log:
            out("logs/federation_results.log"),
        conda:
            "../envs/netpet.yaml"
        resources:
            mem_mb=job_mem_mb(800),
            runtime=job_runtime(10),
        params:
            version=PACKAGE_VERSION,
            settings=settings("*"),
        script:
            "../scripts/federation_results.py"

    rule federation_report:
        input:
            answers=answers_before(FED_PLAN["round"]),
            tables=[out(f"results/federation/{name}.csv") for name in FED_TABLES],
        output:
            report=report(
                out("results/federation/report.html"),
                caption="../report/federation.rst",
                category="Federation",
                labels={"table": "report"},
            ),
            print_copy=out("intermediate/federation/report.print.html"),
        log:
            out("logs/federation_report.log"),
        conda:
            "../envs/netpet.yaml"
        resources:
            mem_mb=job_mem_mb(800),
            runtime=job_runtime(10),
        params:
            version=PACKAGE_VERSION,
            settings=settings("*"),
        script:
            "../scripts/federation_report.py"

    # The PDF typeset by a rule of its own from the report's print copy.
    rule federation_report_pdf:
        input:
            print_copy=rules.federation_report.output.print_copy,
        output:
            pdf=out("results/federation/report.pdf"),
        log:
            out("logs/federation_report_pdf.log"),
        conda:
            "../envs/netpet.yaml"
        resources:
            mem_mb=job_mem_mb(800),
            runtime=job_runtime(10),
        params:
            version=PACKAGE_VERSION,
            settings=settings(),  # typesets the print copy; reads no setting
        script:
            "../scripts/report_pdf.py"

    rule federation_manifest:
        input:
            data=answers_before(FED_PLAN["round"]),
            results=[out(f"results/federation/{name}.csv") for name in FED_TABLES]
            + [
                out("results/federation/report.html"),
                out("results/federation/report.pdf"),
            ],
        output:
            manifest=out("results/federation/manifest.json"),
            run_record=out("results/federation/run_record.json"),
        log:
            out("logs/federation_manifest.log"),
        conda:
            "../envs/netpet.yaml"
        resources:
            mem_mb=job_mem_mb(500),
            runtime=job_runtime(5),
        params:
            version=PACKAGE_VERSION,
            settings=settings("*"),
        script:
            "../scripts/manifest.py"
