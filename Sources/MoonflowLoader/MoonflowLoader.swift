// MoonflowLoader: placeholder until its first type lands.
