# R's mice on the rows benchmarks/mi_registry.py prepared, for its time comparison:
# m = 20 imputations, 10 cycles, pmm for log2 Ki-67 and polr for grade, each endpoint's
# event indicator and Nelson-Aalen hazard among the predictors, then every model of
# the models file pooled by Rubin's rules (mice::pool).
#
#     Rscript benchmarks/r_mice.R r_rows.csv r_models.txt os,ttp
suppressPackageStartupMessages({library(survival); library(mice)})
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
formulas <- readLines(args[2])
endpoints <- strsplit(args[3], ",")[[1]]
d$grade <- factor(d$grade, levels = c("G1", "G2", "G3"), ordered = TRUE)
d$netpet_group <- factor(d$netpet_group)
d$centre <- factor(d$centre)
d$lki67 <- log2(pmax(d$ki67, 1))
for (ep in endpoints) {  # Nelson-Aalen at each patient's own time (mice::nelsonaalen)
  t <- d[[paste0(ep, "_time")]]
  sf <- survfit(Surv(t, d[[paste0(ep, "_event")]]) ~ 1, ctype = 1)
  d[[paste0("H_", ep)]] <- stepfun(sf$time, c(0, sf$cumhaz))(t)
}
cpu <- function() sum(proc.time()[c("user.self", "sys.self")])
start <- proc.time()[["elapsed"]]
cpu0 <- cpu()
imp_data <- d[, setdiff(names(d), c("ki67", paste0(endpoints, "_time")))]
meth <- make.method(imp_data)
meth[] <- ""
meth[["lki67"]] <- "pmm"
meth[["grade"]] <- "polr"
imp <- mice(imp_data, m = 20, maxit = 10, method = meth, seed = 1, printFlag = FALSE)
imputed <- proc.time()[["elapsed"]] - start
imputed_cpu <- cpu() - cpu0
# the times back beside the imputed sets; Ki-67 on the scale the models use
long <- complete(imp, "long", include = TRUE)
long <- cbind(long, d[rep(seq_len(nrow(d)), 21), paste0(endpoints, "_time"), drop = FALSE])
long$ki67 <- 2^long$lki67
mids <- as.mids(long)
start <- proc.time()[["elapsed"]]
cpu0 <- cpu()
for (f in formulas) {
  fit <- with(mids, coxph(as.formula(f), ties = "efron"))
  pooled <- pool(fit)
}
fitted <- proc.time()[["elapsed"]] - start
fitted_cpu <- cpu() - cpu0
cat(sprintf(paste("R %s, mice %s, %d patients: mice(m = 20, maxit = 10) %.1f s (CPU %.1f s);",
                  "%d models x 20 coxph + pool %.1f s (CPU %.1f s); one core\n"),
            getRversion(), packageVersion("mice"), nrow(d), imputed, imputed_cpu,
            length(formulas), fitted, fitted_cpu))
