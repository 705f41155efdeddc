/**
 * Retry with a delay: when the mail server is busy, park the task for a moment and run this step
 * again (park + redo), at most three times.
 */
export const condition = {
  order: { shipping: { method: String }, notified: null, notifyFailed: null },
  customer: { email: String },
};

export const content = async () => {
  try {
    await connectors.mailer.send({ to: data.customer.email, subject: `Order ${data.order.id} ships ${data.order.shipping.method}` });
    data.order.notified = true;
  } catch (error) {
    data.order.notifyAttempts = (data.order.notifyAttempts ?? 0) + 1;
    console.warn(`notification failed (${error.message})`);
    if (data.order.notifyAttempts < 3) {
      task.park('500ms');
      step.redo();
    } else {
      data.order.notifyFailed = true;
    }
  }
};
