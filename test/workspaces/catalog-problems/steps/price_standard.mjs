/** Everyone pays the total: runs after price_member for members too, and writes the same price. */
export const condition = { cart: { total: Number } };

export const content = async () => {
  data.cart.price = data.cart.total;
};
