// MoonflowEngine: placeholder until its first type lands.
