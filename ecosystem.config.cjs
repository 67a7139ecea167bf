// pm2 runs the primary in fork mode, once: the primary forks one worker per core itself.
// pm2's cluster mode would make this process a cluster *worker*, and sticky routing would never run.
module.exports = {
  apps: [
    {
      name: "chat",
      script: "./dist/src/main.js",
      exec_mode: "fork",
      instances: 1,
      // Signal only the primary; it drains its workers (pm2's tree kill would race its respawns).
      treekill: false,
      // The primary sends "ready" once every worker is up and it listens.
      wait_ready: true,
      listen_timeout: 30000,
      // Above SHUTDOWN_TIMEOUT_MS, so pm2 never SIGKILLs a draining primary.
      kill_timeout: 20000,
      env: {
        NODE_ENV: "production",
      },
    },
  ],
};
