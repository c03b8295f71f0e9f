"""The three kinds of agent: vendors, governments and users (plus vendor strategies)."""
