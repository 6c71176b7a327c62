// Hello world for Nubo's node runtime (an ES module with an async handler).
//
// Deploy with `nubo serve --deploy-examples examples`, then
// `nubo invoke hello-node --payload '{"name": "Ada"}'`.

export const handler = async (event, context) => {
  const name = (event && typeof event === "object" && event.name) || "world";
  return {
    statusCode: 200,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      message: `Hello, ${name}!`,
      requestId: context.awsRequestId,
    }),
  };
};
