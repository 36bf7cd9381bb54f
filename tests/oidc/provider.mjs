// A real, certified OpenID provider (npm `oidc-provider`) for Vigil's SSO tests. Test-only.
//
// Usage: node tests/oidc/provider.mjs PORT REDIRECT_URI [CLIENT_ID] [CLIENT_SECRET]
// (or OIDC_PORT, OIDC_REDIRECT_URI, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET in the environment).
// It binds 127.0.0.1 only. The login form is the provider's own development interaction,
// which accepts any password for a known account id; the accounts are synthetic
// (@example.org), one per situation the tests need. Prints "oidc-provider ready" when
// listening, and exits on SIGTERM/SIGINT.
import Provider from 'oidc-provider';

const [argPort, argRedirect, argId, argSecret] = process.argv.slice(2);
const port = Number(argPort || process.env.OIDC_PORT);
const redirectUri = argRedirect || process.env.OIDC_REDIRECT_URI;
const clientId = argId || process.env.OIDC_CLIENT_ID || 'vigil-test';
const clientSecret = argSecret || process.env.OIDC_CLIENT_SECRET || 'synthetic-client-secret-0123456789';
if (!port || !redirectUri) {
  console.error('usage: node provider.mjs PORT REDIRECT_URI [CLIENT_ID] [CLIENT_SECRET]');
  process.exit(2);
}

// sub -> claims. Every e-mail is synthetic.
const ACCOUNTS = {
  analyst: { email: 'analyst.sso@example.org', email_verified: true },
  stranger: { email: 'stranger.sso@example.org', email_verified: true },
  other: { email: 'other.sso@example.org', email_verified: true },
  disabled: { email: 'disabled.sso@example.org', email_verified: true },
  unverified: { email: 'unverified.sso@example.org', email_verified: false },
};

const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  pkce: { required: () => true },
  cookies: { keys: ['synthetic-test-cookie-key-not-a-secret'] },
  async findAccount(ctx, sub) {
    const claims = ACCOUNTS[sub];
    if (!claims) return undefined;
    return { accountId: sub, async claims() { return { sub, ...claims }; } };
  },
});
provider.on('server_error', (ctx, err) => console.error('server_error', err));

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider ready ${issuer}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
