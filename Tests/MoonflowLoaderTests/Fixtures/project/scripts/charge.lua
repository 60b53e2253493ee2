return {charged = input.amount}
