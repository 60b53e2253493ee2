// MoonflowSchema: placeholder until its first type lands.
