"""Plans (safety / risk management / action), measures, Marak meetings and minutes."""
