// A throwaway OpenID Connect provider for the tests: node's certified `oidc-provider` on 127.0.0.1, with its
// development sign-in pages (any listed login, any password). Configured from the environment by the test:
//   OIDC_PORT, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URI,
//   OIDC_JWK      the private signing key (JWK JSON), so the test can also mint tokens the provider would sign,
//   OIDC_ACCOUNTS {"login": {claims...}}, e.g. {"alice": {"email": "...", "groups": ["hr"]}}; `sub` and
//                 `preferred_username` default to the login, and a claim set to null is left out.
import Provider from 'oidc-provider';

const env = (name) => {
  const value = process.env[name];
  if (!value) {
    console.error(`provider.mjs: ${name} is not set`);
    process.exit(2);
  }
  return value;
};

const port = Number(env('OIDC_PORT'));
const issuer = `http://127.0.0.1:${port}`;
const accounts = JSON.parse(env('OIDC_ACCOUNTS'));

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: env('OIDC_CLIENT_ID'),
      client_secret: env('OIDC_CLIENT_SECRET'),
      redirect_uris: [env('OIDC_REDIRECT_URI')],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  jwks: { keys: [JSON.parse(env('OIDC_JWK'))] },
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username', 'groups'],
    email: ['email', 'email_verified'],
  },
  conformIdTokenClaims: false, // the scope's claims in the ID token itself, as most providers do
  pkce: { required: () => true },
  cookies: { keys: ['kb-test-only'] },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    const claims = accounts[id];
    if (!claims) return undefined;
    const all = { sub: id, preferred_username: id, ...claims };
    return { accountId: id, claims: async () => Object.fromEntries(Object.entries(all).filter(([, v]) => v !== null)) };
  },
});
provider.proxy = false;

provider.listen(port, '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
