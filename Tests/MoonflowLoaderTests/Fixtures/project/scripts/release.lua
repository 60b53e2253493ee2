return {released = true}
