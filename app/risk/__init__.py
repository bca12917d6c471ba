"""Risk instruments (versioned data), answer validation, scoring and referral criteria."""
