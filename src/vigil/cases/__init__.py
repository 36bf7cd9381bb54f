"""Cases: multi-agency case working — links, agency-owned actions, meetings, decisions."""
