// A real OpenID Connect provider (npm oidc-provider) for Bastide's tests, on loopback.
// Usage: node provider.mjs MODULE_PATH PORT REDIRECT_URI ID_TOKEN_TTL
// Every interaction logs in as the account named by the `login_hint` parameter
// (default "rita") and consents at once, so tests run the whole code flow unattended.
const [modulePath, port, redirectUri, idTokenTtl] = process.argv.slice(2);
const { default: Provider } = await import(modulePath);

const accounts = {
  rita: { preferred_username: 'rita', roles: ['researcher'] },
  stella: { preferred_username: 'stella', roles: ['steward', 'unknown-role'] },
  nobody: { preferred_username: 'nobody', roles: ['nothing'] },
};

const client = (id) => ({
  client_id: id,
  client_secret: `${id}-secret`,
  redirect_uris: [redirectUri],
  grant_types: ['authorization_code'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_post',
});

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [client('bastide'), client('another-app')],
  pkce: { required: () => true },
  claims: { openid: ['sub'], profile: ['preferred_username', 'roles'] },
  conformIdTokenClaims: false,
  ttl: { IdToken: Number(idTokenTtl), AccessToken: 600, AuthorizationCode: 600, Grant: 600, Interaction: 600, Session: 600 },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  findAccount: async (ctx, id) => ({
    accountId: id,
    claims: async () => ({ sub: id, ...(accounts[id] ?? {}) }),
  }),
});
provider.proxy = false;

provider.use(async (ctx, next) => {
  if (ctx.path.startsWith('/interaction/')) {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const accountId = details.params.login_hint || 'rita';
    const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
    grant.addOIDCScope(details.params.scope);
    const grantId = await grant.save();
    await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId }, consent: { grantId } }, { mergeWithLastSubmission: false });
    return;
  }
  await next();
});

provider.listen(Number(port), '127.0.0.1', () => console.log(`listening ${port}`));
