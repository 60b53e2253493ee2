// MoonflowEngineTests: placeholder until its first suite lands.
