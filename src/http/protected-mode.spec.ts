import {
  isLoopbackAddress,
  isLoopbackHost,
  protectedModeRefusal,
  REMOTE_HOST_REFUSAL,
  REMOTE_PEER_REFUSAL,
} from './protected-mode';

describe('protected mode', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.255.3.4', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['192.0.2.2', false],
    ['10.0.0.1', false],
    ['::ffff:192.0.2.2', false],
    ['fd00::2', false],
    ['::', false],
    ['0.0.0.0', false],
    ['128.0.0.1', false],
    [undefined, false],
  ])('takes the peer address %p for loopback: %s', (address, loopback) => {
    expect(isLoopbackAddress(address)).toBe(loopback);
  });

  it.each([
    ['localhost', true],
    ['localhost:4000', true],
    ['LocalHost:80', true],
    ['localhost.', true],
    ['localhost:', true],
    ['app.localhost:4000', true],
    ['a.b-c.localhost', true],
    ['127.0.0.1', true],
    ['127.0.0.1:4000', true],
    ['127.1.2.255:1', true],
    ['[::1]', true],
    ['[::1]:4000', true],
    ['evil.example', false],
    ['evil.example:4000', false],
    ['localhost.evil.example', false],
    ['127.0.0.1.evil.example', false],
    ['evillocalhost', false],
    ['127.0.0.256', false],
    ['127.0.0.01', false],
    ['127.1', false],
    ['2130706433', false],
    ['0x7f.0.0.1', false],
    ['0.0.0.0:4000', false],
    ['192.0.2.2:4000', false],
    ['[::2]', false],
    ['[::ffff:7f00:1]', false],
    ['::1', false],
    ['', false],
    ['localhost:4000/x', false],
    ['localhost:abc', false],
    ['localhost\u0000', false],
  ])('takes the Host %p for this machine: %s', (host, loopback) => {
    expect(isLoopbackHost(host)).toBe(loopback);
  });

  it('refuses a remote peer first, then a remote Host, and lets loopback through', () => {
    expect(protectedModeRefusal('192.0.2.2', 'localhost', '/keys')).toBe(REMOTE_PEER_REFUSAL);
    expect(protectedModeRefusal('192.0.2.2', 'evil.example', '/keys')).toBe(REMOTE_PEER_REFUSAL);
    expect(protectedModeRefusal(undefined, 'localhost', '/keys')).toBe(REMOTE_PEER_REFUSAL);
    expect(protectedModeRefusal('127.0.0.1', 'evil.example', '/keys')).toBe(REMOTE_HOST_REFUSAL);
    expect(protectedModeRefusal('127.0.0.1', 'localhost:4000', '/key/a')).toBeUndefined();
    expect(protectedModeRefusal('::1', undefined, '/key/a')).toBeUndefined();
  });

  it('leaves the health routes open to probes from anywhere, and only them', () => {
    for (const url of ['/health', '/health/ready', '/health?x=1']) {
      expect(protectedModeRefusal('192.0.2.2', 'pod-ip:4000', url)).toBeUndefined();
    }
    for (const url of ['/healthz', '/health/', '/health/../key/a', '/Health', '/key/health']) {
      expect(protectedModeRefusal('192.0.2.2', 'pod-ip:4000', url)).toBe(REMOTE_PEER_REFUSAL);
    }
  });

  it('says how to open the server, in JSON', () => {
    for (const body of [REMOTE_PEER_REFUSAL, REMOTE_HOST_REFUSAL]) {
      const { error } = JSON.parse(body) as { error: string };
      expect(error).toMatch(/^Protected mode: /);
      expect(error).toContain('set AUTH_TOKEN');
      expect(error).toContain('PROTECTED_MODE=false');
    }
  });
});
