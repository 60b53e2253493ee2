// MoonflowLoaderTests: placeholder until its first suite lands.
