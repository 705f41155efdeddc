export const condition = { bad: 'deferred' };
export const content = async () => {
  connectors.mailer.send({ to: 'ada@example.com', into: 'mail.sent' });
  data.mail = { queued: true };
};
