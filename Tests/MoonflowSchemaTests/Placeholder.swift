// MoonflowSchemaTests: placeholder until its first suite lands.
