return {reservation = "R1"}
