// MoonflowYAMLTests: placeholder until its first suite lands.
