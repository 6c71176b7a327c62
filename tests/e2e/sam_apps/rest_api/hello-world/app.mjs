export const lambdaHandler = async (event, context) => {
  return {
    statusCode: 200,
    body: JSON.stringify({
      message: 'hello world',
      path: event.path,
      id: event.pathParameters ? event.pathParameters.id : null,
    }),
  };
};
