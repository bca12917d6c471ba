"""A person's access request (GDPR art. 15): recorded, decided by a second person, exported."""
