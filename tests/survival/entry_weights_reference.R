# Reference values of Cox models with delayed entry (left truncation, R
# coxph(Surv(entry, time, event) ~ ...)) and case weights (coxph(weights = )), for
# tests/survival/test_entry_weights_cox.py.
#
# Regenerate (from the repository root):
#     Rscript tests/survival/entry_weights_reference.R
# Needs: r-base-core, r-cran-survival, r-cran-jsonlite (Debian packages).
# Output: tests/survival/entry_weights_reference.json. Each data set is written into the
# JSON (its rows as analysed), so that the Python tests need neither R nor the packages.
#
# Data sets:
#   hand4     four patients whose partial likelihood the test writes out by hand: one
#             enters exactly when another dies (so is not at risk then), one dies alone
#             in its risk set; with and without case weights
#   cohort    300 simulated patients (seed below) whose time zero is the diagnosis and
#             who enter the risk set at their scan: whole months, hence tied exit times
#             and entries equal to other patients' exits; three centres (strata), twelve
#             sites (clusters), non-integer case weights; in centre C seven patients enter
#             at or after its last event among the others (one exactly at it), and two of
#             them at or after the last event of all (never at risk: R's agreg.fit leaves
#             them out of the sums); one patient whose entry equals their exit is left
#             out by R's Surv (NA) as by the package
#   heart     survival::heart, the Stanford heart transplant data in counting-process
#             form (Crowley & Hu, JASA 1977): several rows per patient (cluster = id)

suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
})

out_file <- "tests/survival/entry_weights_reference.json"

hand4 <- data.frame(entry = c(0, 1, 2, 0), time = c(2, 3, 4, 5), event = c(1, 1, 0, 1),
                    x = c(1, 0, 1, 0), w = c(2, 1, 0.5, 1))

set.seed(20270127)
n <- 300
centre <- sample(c("A", "B", "C"), n, replace = TRUE, prob = c(0.45, 0.35, 0.2))
site <- paste0(centre, sample(1:4, n, replace = TRUE))
x <- round(rnorm(n), 2)
group <- factor(sample(c("P1", "P2-4", "P5"), n, replace = TRUE), levels = c("P1", "P2-4", "P5"))
lp <- 0.5 * x + c(0, 0.6, 1.3)[as.integer(group)]
entry <- floor(runif(n, 0, 24))                           # diagnosis to scan, whole months
surv <- ceiling(rexp(n, 0.03 * exp(lp)))                  # diagnosis to death
cens <- ceiling(runif(n, 6, 90))
time <- pmin(surv, cens)
event <- as.integer(surv <= cens)
keep <- time > entry                                      # dead before the scan: never seen
coh <- data.frame(entry = entry, time = time, event = event, x = x, group = group,
                  centre = centre, site = site,
                  w = round(runif(n, 0.4, 3.2), 3), stringsAsFactors = FALSE)[keep, ]
# five patients of centre C entering after its last event; one whose entry is its exit
last_c <- max(coh$time[coh$centre == "C" & coh$event == 1])
late <- data.frame(entry = last_c + c(0, 1, 2, 3, 5, 12, 13),
                   time = last_c + c(4, 6, 7, 9, 12, 15, 14),
                   event = c(1, 0, 1, 0, 1, 0, 0), x = c(-1, 0.5, 1.2, 0, 2, 0.4, -0.3),
                   group = factor(c("P1", "P5", "P2-4", "P1", "P5", "P2-4", "P1"),
                                  levels = levels(group)),
                   centre = "C", site = "C1", w = c(1.5, 0.7, 2.2, 1, 0.9, 1.3, 0.6))
empty <- data.frame(entry = 30, time = 30, event = 1, x = 0.3,
                    group = factor("P5", levels = levels(group)), centre = "A", site = "A2",
                    w = 1.1)
coh <- rbind(coh, late, empty)
coh$wint <- ceiling(coh$w)                                # whole-number (frequency) weights
rownames(coh) <- NULL

heart <- survival::heart[, c("start", "stop", "event", "age", "year", "surgery",
                             "transplant", "id")]
names(heart)[1:2] <- c("entry", "time")
heart$transplant <- as.integer(as.character(heart$transplant))

# Both fits are compared at the maximum (the package continues past R's default stopping
# rule; see ties_reference.R).
CONTROL <- coxph.control(eps = 1e-12, toler.chol = 1e-14, iter.max = 100)
`%||%` <- function(a, b) if (is.null(a)) b else a
TIMES <- list(hand4 = c(1.5, 2, 3, 4.5, 5), cohort = c(6, 12, 24, 36, 60, 90),
              heart = c(10, 50, 100, 365, 1000, 1500))

entry_fit <- function(name, df, formula, ties, weights = NULL, cluster = NULL) {
  df$.w <- if (is.null(weights)) 1 else df[[weights]]
  df$.cluster <- if (is.null(cluster)) NA else df[[cluster]]
  assign(".fit_data", df, envir = globalenv())
  call <- sprintf("coxph(%s, data = %s, ties = '%s'%s%s)", deparse(formula), name, ties,
                  if (is.null(weights)) "" else sprintf(", weights = %s", weights),
                  if (is.null(cluster)) "" else sprintf(", cluster = %s", cluster))
  fit <- if (is.null(weights) && is.null(cluster))
    eval(bquote(coxph(.(formula), data = .fit_data, ties = .(ties), model = TRUE, control = CONTROL)))
  else if (is.null(cluster))
    eval(bquote(coxph(.(formula), data = .fit_data, ties = .(ties), weights = .w, model = TRUE, control = CONTROL)))
  else if (is.null(weights))
    eval(bquote(coxph(.(formula), data = .fit_data, ties = .(ties), cluster = .cluster, model = TRUE, control = CONTROL)))
  else
    eval(bquote(coxph(.(formula), data = .fit_data, ties = .(ties), weights = .w, cluster = .cluster, model = TRUE, control = CONTROL)))
  robust <- !is.null(fit$naive.var)
  naive <- fit$naive.var %||% fit$var
  # survival 3.5-3 returns ties = "exact" on Surv(start, stop, event) data as an unclassed
  # list (agexact.fit sets no class): its coefficients, variance, log likelihoods and
  # score test are recorded, drop1 by refitting without each term; survfit and cox.zph
  # cannot take it
  classed <- inherits(fit, "coxph")
  labels <- attr(terms(formula), "term.labels")
  labels <- labels[!grepl("^strata\\(", labels)]
  d1 <- if (length(labels) < 2) NULL else if (classed) drop1(fit, test = "Chisq") else {
    lrt <- sapply(labels, function(term) {
      reduced <- update(formula, as.formula(paste(". ~ . -", term)))
      2 * (fit$loglik[2] - coxph(reduced, data = df, ties = ties, control = CONTROL)$loglik[2])
    })
    data.frame(LRT = c(NA, lrt), Df = NA, row.names = c("<none>", labels))
  }
  # S0(t) at x = 0 (R survfit of the fit at the reference covariates), per stratum
  if (!classed)
    return(list(call = call, data = name, ties = ties, weights = weights, cluster = cluster,
                formula = deparse(formula), n = nrow(df) - sum(df$entry >= df$time),
                nevent = sum(df$event[df$entry < df$time]), coef = unname(coef(fit)),
                coef_names = names(coef(fit)), var = unname(naive), robust = robust,
                robust_var = NULL, loglik = fit$loglik, lr = 2 * diff(fit$loglik),
                score = unname(fit$score), wald = drop(coef(fit) %*% solve(naive, coef(fit))),
                drop1 = if (is.null(d1)) NULL else list(term = labels, lrt = unname(d1$LRT[-1])),
                survfit = NULL, zph = NULL, zph_rank = NULL,
                note = "survival 3.5-3: unclassed fit, no survfit or cox.zph"))
  sf <- survfit(fit, newdata = data.frame(x = 0, group = factor("P1", levels = c("P1", "P2-4", "P5")),
                                          age = 0, year = 0, surgery = 0, transplant = 0))
  s <- summary(sf, times = TIMES[[name]], extend = TRUE)
  z <- cox.zph(fit, transform = "km")
  zr <- cox.zph(fit, transform = "rank")
  list(
    call = call, data = name, ties = ties, weights = weights, cluster = cluster,
    formula = deparse(formula), n = fit$n, nevent = fit$nevent,
    coef = unname(coef(fit)), coef_names = names(coef(fit)),
    var = unname(naive), robust = robust, robust_var = if (robust) unname(fit$var) else NULL,
    loglik = fit$loglik, lr = 2 * diff(fit$loglik), score = unname(fit$score),
    wald = drop(coef(fit) %*% solve(naive, coef(fit))),
    drop1 = if (is.null(d1)) NULL else
      list(term = rownames(d1)[-1], lrt = unname(d1$LRT[-1]), df = unname(d1$Df[-1])),
    survfit = list(time = s$time, cumhaz = s$cumhaz, surv = s$surv,
                   strata = if (is.null(s$strata)) NULL else as.character(s$strata)),
    zph = list(term = rownames(z$table), chisq = unname(z$table[, "chisq"]),
               df = unname(z$table[, "df"]), y = unname(z$y), x = unname(z$x),
               time = unname(z$time)),
    zph_rank = list(chisq = unname(zr$table[, "chisq"])))
}

COH <- Surv(entry, time, event) ~ x + group + strata(centre)
fits <- list()
for (ties in c("efron", "breslow", "exact")) {
  fits[[length(fits) + 1]] <- entry_fit("hand4", hand4, Surv(entry, time, event) ~ x, ties)
  fits[[length(fits) + 1]] <- entry_fit("cohort", coh, COH, ties)
  fits[[length(fits) + 1]] <- entry_fit("heart", heart,
    Surv(entry, time, event) ~ age + year + surgery + transplant, ties)
}
for (ties in c("efron", "breslow")) {
  fits[[length(fits) + 1]] <- entry_fit("hand4", hand4, Surv(entry, time, event) ~ x, ties,
                                        weights = "w")
  fits[[length(fits) + 1]] <- entry_fit("cohort", coh, COH, ties, weights = "w")
  fits[[length(fits) + 1]] <- entry_fit("cohort", coh, COH, ties, weights = "w", cluster = "site")
  fits[[length(fits) + 1]] <- entry_fit("cohort", coh, COH, ties, cluster = "site")
  fits[[length(fits) + 1]] <- entry_fit("cohort", coh, Surv(time, event) ~ x + group + strata(centre),
                                        ties, weights = "w")
  fits[[length(fits) + 1]] <- entry_fit("heart", heart,
    Surv(entry, time, event) ~ age + year + surgery + transplant, ties, cluster = "id")
}
fits[[length(fits) + 1]] <- entry_fit("cohort", coh, COH, "efron", weights = "wint")

# What R refuses
refusals <- list(
  zero_weight = tryCatch({coxph(Surv(entry, time, event) ~ x, data = transform(hand4, w = c(0, 1, 1, 1)),
                                weights = w); "fitted"}, error = function(e) conditionMessage(e)),
  exact_weights = tryCatch({coxph(Surv(entry, time, event) ~ x, data = hand4, weights = w,
                                  ties = "exact"); "fitted"}, error = function(e) conditionMessage(e)),
  entry_not_before_exit = tryCatch(
    is.na(Surv(c(1, 2), c(2, 2), c(1, 1)))[2], warning = function(w) conditionMessage(w)))

out <- list(
  r_version = R.version.string,
  survival_version = as.character(packageVersion("survival")),
  data = list(hand4 = hand4, cohort = transform(coh, group = as.character(group)),
              heart = heart),
  times = TIMES, fits = fits, refusals = refusals)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, null = "null", na = "null", pretty = FALSE),
           out_file)
