/** Members get a discount. */
export const condition = { cart: { total: Number }, member: true };

export const content = async () => {
  data.cart.price = data.cart.total * 0.9;
};
