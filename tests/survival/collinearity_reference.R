# Reference values for tests/survival/test_collinearity.py: generalized variance-inflation
# factors of a Cox model's terms (R car::vif on coxph, Fox & Monette 1992).
#   Rscript tests/survival/collinearity_reference.R   (from the repository root)
library(survival)
library(car)
library(jsonlite)
rot <- read.csv("tests/data/rotterdam.csv")
rot$size <- factor(rot$size, levels = c("<=20", "20-50", ">50"))
rot$lnodes <- log2(pmax(rot$nodes, 1))
rot$lpgr <- log2(pmax(rot$pgr, 1))
rot$age10 <- rot$age / 10
fit <- coxph(Surv(rfs_time, rfs_event) ~ size + lnodes + grade3 + age10 + hormon + lpgr,
             data = rot, ties = "efron")
v <- vif(fit)
out <- list(terms = rownames(v), gvif = unname(v[, "GVIF"]), df = unname(v[, "Df"]),
            gvif_adjusted = unname(v[, "GVIF^(1/(2*Df))"]),
            r_version = paste(R.version$major, R.version$minor, sep = "."),
            car_version = as.character(packageVersion("car")))
write_json(out, "tests/survival/collinearity_reference.json", digits = NA, auto_unbox = TRUE,
           pretty = TRUE)
