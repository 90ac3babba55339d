"""Assessment: workers run the damage model on submitted photos and decide or route claims."""
