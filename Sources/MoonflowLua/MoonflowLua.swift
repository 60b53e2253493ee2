// MoonflowLua: placeholder until its first type lands.
