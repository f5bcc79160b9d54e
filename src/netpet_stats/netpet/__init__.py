"""What is specific to the NETPET score: scoring, analysis groups, the synthetic cohort."""
