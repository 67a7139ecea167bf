// The chaos test again, its servers on a Redis Cluster of 3 masters and 3 replicas.
process.env.CHAT_TEST_REDIS = "cluster";
await import("./chaos.test.js");
