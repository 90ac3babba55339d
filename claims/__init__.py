"""Claims: customers, their claims and photos, from intake to the assessment queue."""
