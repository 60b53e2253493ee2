// MoonflowLuaTests: placeholder until its first suite lands.
